"""An exact integer reference for the Systolic EP: ONNX Runtime's CPU EP on the same model with each residual add the
EP placed (QOperator com.microsoft QLinearAdd, or a QDQ DequantizeLinear pair -> Add -> QuantizeLinear) written as
Gemmini's resadd in standard ops: a' = sat8(RNE(float(a - a_zp) * (a_scale / c_scale))), b' likewise,
c = clamp(a' + b' + c_zp). Shared by tests/test_plugin_ep.py and tests/test_ep_quant_forms.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def add_units(m: onnx.ModelProto, placed: set[str]) -> dict[str, tuple[list[str], str, set[str]]]:
    """Placed residual adds: node name -> ([a, a_s, a_z, b, b_s, b_z, c_s, c_z], output, nodes it replaces)."""
    producer = {o: n for n in m.graph.node for o in n.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in m.graph.node:
        for t in n.input:
            readers.setdefault(t, []).append(n)
    units = {}
    for n in m.graph.node:
        if n.name not in placed:
            continue
        if n.op_type == "QLinearAdd":
            units[n.name] = (list(n.input), n.output[0], {n.name})
        elif n.op_type == "Add":  # QDQ unit: DQ a, DQ b -> Add -> Q (the EP takes no Relu between here)
            dq = [producer[t] for t in n.input]
            (q,) = readers[n.output[0]]
            assert [d.op_type for d in dq] == ["DequantizeLinear"] * 2 and q.op_type == "QuantizeLinear", n.name
            units[n.name] = ([*dq[0].input, *dq[1].input, q.input[1], q.input[2]], q.output[0], {n.name, q.name})
    return units


def _to_int8_domain(m: onnx.ModelProto) -> None:
    """Every uint8 initializer (zero points; weights are int8) and graph output shifted by the exact x - 128."""
    for i in m.graph.initializer:
        if i.data_type == TensorProto.UINT8:
            i.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(i) ^ 0x80).view(np.int8), i.name))
    for o in m.graph.output:
        if o.type.tensor_type.elem_type == TensorProto.UINT8:
            o.type.tensor_type.elem_type = TensorProto.INT8


def resadd_reference(model: Path, placed: set[str], int8_domain: bool = False) -> bytes:
    """The model with the placed adds replaced (see the module docstring); int8_domain: also shift every uint8
    tensor to int8 first, as the EP computes internally."""
    m = onnx.load(str(model))
    if int8_domain:
        _to_int8_domain(m)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    units = add_units(m, placed)
    replaced = set().union(*(u[2] for u in units.values())) if units else set()
    nodes: list[onnx.NodeProto] = []
    extra: list[onnx.TensorProto] = []
    for node in m.graph.node:
        if node.name not in units:
            if node.name not in replaced:
                nodes.append(node)
            continue
        (a, a_s, a_z, b, b_s, b_z, c_s, c_z), out, _ = units[node.name]
        u8 = inits[c_z].dtype == np.uint8
        p = f"{node.name}_resadd"
        extra += [numpy_helper.from_array(np.float32(1.0), f"{p}_one"),
                  numpy_helper.from_array(np.int8(0), f"{p}_zero"),
                  numpy_helper.from_array(np.int32(inits[c_z]), f"{p}_czp"),
                  numpy_helper.from_array(np.int32(0 if u8 else -128), f"{p}_lo"),
                  numpy_helper.from_array(np.int32(255 if u8 else 127), f"{p}_hi")]
        scaled = []
        for tag, x, s, z in (("a", a, a_s, a_z), ("b", b, b_s, b_z)):
            extra += [numpy_helper.from_array(np.float32(inits[s]) / np.float32(inits[c_s]), f"{p}_{tag}_ratio"),
                      numpy_helper.from_array(np.float32(inits[z]), f"{p}_{tag}_zpf")]
            nodes += [helper.make_node("Cast", [x], [f"{p}_{tag}_f"], to=TensorProto.FLOAT),
                      helper.make_node("Sub", [f"{p}_{tag}_f", f"{p}_{tag}_zpf"], [f"{p}_{tag}_c"]),
                      helper.make_node("Mul", [f"{p}_{tag}_c", f"{p}_{tag}_ratio"], [f"{p}_{tag}_m"]),
                      helper.make_node("QuantizeLinear", [f"{p}_{tag}_m", f"{p}_one", f"{p}_zero"], [f"{p}_{tag}_q"]),
                      helper.make_node("Cast", [f"{p}_{tag}_q"], [f"{p}_{tag}_i"], to=TensorProto.INT32)]
            scaled.append(f"{p}_{tag}_i")
        nodes += [helper.make_node("Add", scaled, [f"{p}_sum"]),
                  helper.make_node("Add", [f"{p}_sum", f"{p}_czp"], [f"{p}_shift"]),
                  helper.make_node("Clip", [f"{p}_shift", f"{p}_lo", f"{p}_hi"], [f"{p}_clip"]),
                  helper.make_node("Cast", [f"{p}_clip"], [out], to=TensorProto.UINT8 if u8 else TensorProto.INT8)]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.graph.initializer.extend(extra)
    m.graph.ClearField("value_info")
    return m.SerializeToString()
