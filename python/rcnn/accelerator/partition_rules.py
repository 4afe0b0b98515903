"""The partitioner's placement rules: which nodes the accelerator takes, with what attributes, and what it fuses.

Each rule looks at one candidate node and returns a `Plan` (what the rcnn.systolic node will be) or the reasons it is
declined. `fusion_steps` then finds the single-consumer chain after a placed node that the accelerator absorbs
(Relu; MaxPool after a conv; DequantizeLinear -> Relu/MaxPool -> QuantizeLinear round trips). Nothing here changes
the graph: rcnn.partition does the rewriting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from rcnn.accelerator.placement import MAC_OPS
from rcnn.onnxgraph.graph import opset_of
from rcnn.onnxgraph.graph_index import GraphIndex

INT8, UINT8, FLOAT = TensorProto.INT8, TensorProto.UINT8, TensorProto.FLOAT
# Ops through which ONNX Runtime's QDQPropagationTransformer pushes a DequantizeLinear (its CanNodePropagate). The
# host's ORT 1.31 at ORT_ENABLE_ALL rejects DequantizeLinear(int8, opset >= 21) -> one of these ("output_dtype INT8
# does not match y_zero_point type UINT8"; riscv64's ORT 1.21 is fine), so the partitioner does not create that
# adjacency when it moves a DequantizeLinear in a model of opset >= 21.
_QDQ_PROPAGATING = frozenset({"MaxPool", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Slice"})


# ---------------------------------------------------------------------------------------------------------------
# Placement plans
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operand:
    """One input of a systolic node: an activation (layout chosen by the op) or a constant, possibly transformed."""

    name: str
    kind: str  # "act", "const", "hwio" (OIHW -> HWIO), "transpose" (2-D), "vector" (broadcast bias -> [N])
    size: int = 0  # length of a "vector"


@dataclass
class Step:
    """A node fused after the producer: relu, pool, dq/q (a DequantizeLinear ... QuantizeLinear pair)."""

    idx: int
    kind: str
    pool: dict[str, list[int]] | None = None


@dataclass
class Plan:
    idx: int
    op: str  # QConv, QMatMul, QAdd, Conv, MatMul
    operands: list[Operand]
    attrs: dict[str, Any]
    layouts: str  # "nhwc" (conv), "orig" (matmul) or "any" (elementwise add: chosen at emission)
    steps: list[Step] = field(default_factory=list)
    sunk_dq: int | None = None  # a DequantizeLinear moved after the fused ops (it stays on the CPU)
    output: str = ""  # original name of the tensor the systolic node (plus the sunk DQ) stands for
    int8_output: str = ""  # with a sunk DQ: the int8 tensor between the systolic node and the DQ

    @property
    def relu(self) -> bool:
        return any(s.kind == "relu" for s in self.steps)

    @property
    def pool(self) -> dict[str, list[int]] | None:
        return next((s.pool for s in self.steps if s.kind == "pool"), None)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _inputs(node: onnx.NodeProto, n: int) -> list[str]:
    return [*node.input, *[""] * (n - len(node.input))][:n]


def _type_name(elem: int) -> str:
    return TensorProto.DataType.Name(elem).lower() if elem else "unknown"


def _elem(ix: GraphIndex, tensor: str, zero_point: str = "") -> int:
    """Element type of a quantized tensor: from its zero point's constant when there is one, else inferred."""
    if zero_point:
        if zero_point in ix.initializers:
            return ix.initializers[zero_point].data_type
        if ix.elem_type(zero_point):
            return ix.elem_type(zero_point)
    return ix.elem_type(tensor)


def _scale(ix: GraphIndex, name: str, what: str, reasons: list[str]) -> float:
    value = ix.const(name) if name else None
    if value is None:
        reasons.append(f"{what} is not a constant" if name else f"{what} missing")
        return 0.0
    if value.size != 1:
        reasons.append(f"per-channel {what} ({value.size} values)" if what == "w_scale"
                       else f"{what} has {value.size} values (per-tensor only)")
        return 0.0
    f = float(np.float32(value.reshape(-1)[0]))
    if not (math.isfinite(f) and f > 0):
        reasons.append(f"{what} {f} is not positive and finite")
    return f


def _zero_point(ix: GraphIndex, name: str, what: str, reasons: list[str]) -> None:
    if not name:
        return  # absent means 0
    value = ix.const(name)
    if value is None:
        reasons.append(f"zero point of {what} is not a constant")
    elif np.any(value != 0):
        shown = value.reshape(-1)[0] if value.size == 1 else f"{value.size} values, not all 0"
        reasons.append(f"non-zero zero point of {what} ({shown})")


def _check_int8(ix: GraphIndex, tensors: list[tuple[str, str, str]], reasons: list[str]) -> None:
    """tensors: (what, tensor name, zero point name). Declines uint8 and anything else that is not int8."""
    types = {what: _elem(ix, t, zp) for what, t, zp in tensors}
    uint8 = [w for w, e in types.items() if e == UINT8]
    if uint8:
        reasons.append(f"uint8 {'/'.join(uint8)} (the accelerator is int8 only)")
    other = [f"{w} is {_type_name(e)}" for w, e in types.items() if e not in (INT8, UINT8, 0)]
    reasons.extend(other)


def _conv_geometry(ix: GraphIndex, node: onnx.NodeProto, x: str, w_shape: tuple[int, ...],
                   reasons: list[str]) -> dict[str, Any]:
    """strides, dilations, pads [t,l,b,r], group of a 2-D (Q)Conv, with auto_pad resolved to explicit pads."""
    a = _attrs(node)
    kernel = list(w_shape[2:])
    if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
        reasons.append(f"kernel_shape {list(a['kernel_shape'])} does not match the weights {kernel}")
    strides = list(a.get("strides", [1, 1]))
    dilations = list(a.get("dilations", [1, 1]))
    group = int(a.get("group", 1))
    pads = _resolve_pads(ix, a, x, kernel, strides, dilations, reasons)
    if group < 1 or w_shape[0] % group:
        reasons.append(f"group {group} does not divide the {w_shape[0]} output channels")
    x_dims = ix.dims(x)
    if x_dims is not None:
        if len(x_dims) != 4:
            reasons.append(f"input rank {len(x_dims)}, not 4")
        elif isinstance(x_dims[1], int) and x_dims[1] != w_shape[1] * group:
            reasons.append(f"input has {x_dims[1]} channels, the weights expect {w_shape[1] * group}")
    return {"strides": strides, "dilations": dilations, "pads": pads, "group": group}


def _resolve_pads(ix: GraphIndex, a: dict[str, Any], x: str, kernel: list[int], strides: list[int],
                  dilations: list[int], reasons: list[str]) -> list[int]:
    auto_pad = a.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad == "NOTSET":
        return list(a.get("pads", [0, 0, 0, 0]))
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    dims = ix.dims(x)
    spatial = dims[2:] if dims is not None and len(dims) == 4 else None
    if spatial is None or not all(isinstance(d, int) for d in spatial):
        reasons.append(f"auto_pad {auto_pad} with unknown input size")
        return [0, 0, 0, 0]
    begin, end = [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
        out = -(-int(size) // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - int(size), 0)
        small = total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else total - small)
        end.append(total - begin[-1])
    return [*begin, *end]


def macs(ix: GraphIndex, node: onnx.NodeProto) -> int | None:
    """Multiply-accumulates of a conv/matmul/gemm node, from inferred shapes (None when unknown)."""
    if node.op_type not in MAC_OPS or not node.output:
        return None
    out = ix.types.get(node.output[0])
    out_dims = out.known_dims() if out else None
    w_index = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3, "ConvTranspose": 1}
    if node.op_type in w_index:
        w = ix.types.get(_inputs(node, 4)[w_index[node.op_type]])
        w_dims = w.known_dims() if w else None
        if w_dims is None or len(w_dims) < 3:
            return None
        if node.op_type == "ConvTranspose":
            x = ix.types.get(node.input[0])
            x_dims = x.known_dims() if x else None
            return None if x_dims is None else math.prod(x_dims) * math.prod(w_dims[1:])
        return None if out_dims is None else math.prod(out_dims) * math.prod(w_dims[1:])
    a = ix.types.get(node.input[0])
    a_dims = a.known_dims() if a else None
    if out_dims is None or not a_dims:
        return None
    if node.op_type in ("Gemm", "QGemm"):
        trans_a = int(_attrs(node).get("transA", 0))
        k = a_dims[0] if trans_a else a_dims[-1]
    else:
        k = a_dims[-1]
    return math.prod(out_dims) * k


# ---- rules: a Plan, or the reasons the node is declined ------------------------------------------------------


def _rule_qlinearconv(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    x, xs, xz, w, ws, wz, ys, yz, b = _inputs(node, 9)
    reasons: list[str] = []
    _check_int8(ix, [("x", x, xz), ("w", w, wz), ("y", node.output[0], yz)], reasons)
    attrs = {"x_scale": _scale(ix, xs, "x_scale", reasons), "w_scale": _scale(ix, ws, "w_scale", reasons),
             "y_scale": _scale(ix, ys, "y_scale", reasons)}
    for what, zp in (("x", xz), ("w", wz), ("y", yz)):
        _zero_point(ix, zp, what, reasons)
    weights = ix.const(w)
    if weights is None:
        reasons.append("weights are not a constant")
        return reasons
    if weights.ndim != 4:
        reasons.append(f"not a 2-D convolution ({weights.ndim - 2}-D)")
        return reasons
    attrs.update(_conv_geometry(ix, node, x, weights.shape, reasons))
    operands = [Operand(x, "act"), Operand(w, "hwio")]
    if b:
        bias = ix.const(b)
        if bias is None or bias.dtype != np.int32 or bias.shape != (weights.shape[0],):
            reasons.append(f"bias is not a constant int32 [{weights.shape[0]}] tensor")
        else:
            operands.append(Operand(b, "const"))
    if reasons:
        return reasons
    return Plan(idx, "QConv", operands, attrs, "nhwc")


def _rule_conv(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    x, w, b = _inputs(node, 3)
    reasons: list[str] = []
    if ix.elem_type(x) not in (FLOAT, 0):
        reasons.append(f"x is {_type_name(ix.elem_type(x))} (the fp32 accelerator runs float32)")
    weights = ix.const(w)
    if weights is None:
        return [*reasons, "weights are not a constant"]
    if weights.dtype != np.float32:
        return [*reasons, f"weights are {weights.dtype}, not float32"]
    if weights.ndim != 4:
        return [*reasons, f"not a 2-D convolution ({weights.ndim - 2}-D)"]
    attrs = _conv_geometry(ix, node, x, weights.shape, reasons)
    operands = [Operand(x, "act"), Operand(w, "hwio")]
    if b:
        bias = ix.const(b)
        if bias is None or bias.dtype != np.float32 or bias.shape != (weights.shape[0],):
            reasons.append(f"bias is not a constant float32 [{weights.shape[0]}] tensor")
        else:
            operands.append(Operand(b, "const"))
    return reasons or Plan(idx, "Conv", operands, attrs, "nhwc")


def _check_matmul_b(ix: GraphIndex, a: str, b: str, dtype: type, reasons: list[str]) -> np.ndarray | None:
    value = ix.const(b)
    if value is None:
        reasons.append("B is not a constant (the accelerator matmul takes B from an initializer)")
        return None
    if value.ndim != 2:
        reasons.append(f"B has rank {value.ndim}, not 2")
        return None
    if value.dtype != dtype:
        reasons.append(f"B is {value.dtype}, not {np.dtype(dtype)}")
    a_dims = ix.dims(a)
    if a_dims is not None and (not a_dims or (isinstance(a_dims[-1], int) and a_dims[-1] != value.shape[0])):
        reasons.append(f"A's last dim {a_dims[-1] if a_dims else None} does not match K = {value.shape[0]}")
    return value


def _rule_qlinearmatmul(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    a, as_, az, b, bs, bz, ys, yz = _inputs(node, 8)
    reasons: list[str] = []
    _check_int8(ix, [("a", a, az), ("b", b, bz), ("y", node.output[0], yz)], reasons)
    attrs = {"a_scale": _scale(ix, as_, "a_scale", reasons), "b_scale": _scale(ix, bs, "b_scale", reasons),
             "y_scale": _scale(ix, ys, "y_scale", reasons)}
    for what, zp in (("a", az), ("b", bz), ("y", yz)):
        _zero_point(ix, zp, what, reasons)
    _check_matmul_b(ix, a, b, np.int8, reasons)
    return reasons or Plan(idx, "QMatMul", [Operand(a, "act"), Operand(b, "const")], attrs, "orig")


def _rule_matmul(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    a, b = _inputs(node, 2)
    reasons: list[str] = []
    if ix.elem_type(a) not in (FLOAT, 0):
        reasons.append(f"A is {_type_name(ix.elem_type(a))} (the fp32 accelerator runs float32)")
    _check_matmul_b(ix, a, b, np.float32, reasons)
    return reasons or Plan(idx, "MatMul", [Operand(a, "act"), Operand(b, "const")], {}, "orig")


def _rule_gemm(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    a, b, c = _inputs(node, 3)
    at = _attrs(node)
    reasons: list[str] = []
    if ix.elem_type(a) not in (FLOAT, 0):
        reasons.append(f"A is {_type_name(ix.elem_type(a))} (the fp32 accelerator runs float32)")
    if int(at.get("transA", 0)):
        reasons.append("transA=1")
    if float(at.get("alpha", 1.0)) != 1.0:
        reasons.append(f"alpha={at['alpha']:g}")
    if c and float(at.get("beta", 1.0)) != 1.0:
        reasons.append(f"beta={at['beta']:g}")
    value = ix.const(b)
    if value is None or value.ndim != 2 or value.dtype != np.float32:
        return [*reasons, "B is not a constant 2-D float32 tensor"]
    trans_b = bool(int(at.get("transB", 0)))
    n = value.shape[0] if trans_b else value.shape[1]
    operands = [Operand(a, "act"), Operand(b, "transpose" if trans_b else "const")]
    if c:
        bias = ix.const(c)
        if bias is None or bias.dtype != np.float32 or bias.shape not in ((n,), (1, n), (1,), (), (1, 1)):
            reasons.append(f"C is not a constant float32 bias broadcast along rows ([{n}])")
        else:
            operands.append(Operand(c, "const" if bias.shape == (n,) else "vector", n))
    return reasons or Plan(idx, "MatMul", operands, {}, "orig")


def _rule_qlinearadd(ix: GraphIndex, idx: int, node: onnx.NodeProto) -> Plan | list[str]:
    a, as_, az, b, bs, bz, cs, cz = _inputs(node, 8)
    reasons: list[str] = []
    _check_int8(ix, [("A", a, az), ("B", b, bz), ("C", node.output[0], cz)], reasons)
    attrs = {"a_scale": _scale(ix, as_, "A_scale", reasons), "b_scale": _scale(ix, bs, "B_scale", reasons),
             "c_scale": _scale(ix, cs, "C_scale", reasons)}
    for what, zp in (("A", az), ("B", bz), ("C", cz)):
        _zero_point(ix, zp, what, reasons)
    for what, scale in (("A", attrs["a_scale"]), ("B", attrs["b_scale"])):
        c_scale = attrs["c_scale"]
        # Gemmini's scaled load saturates each input to int8 before the sum: with a ratio above 1 an input near
        # its range end saturates early and the result drifts from QLinearAdd by up to 127 LSB (measured).
        if scale > 0 and c_scale > 0 and np.float32(scale) / np.float32(c_scale) > 1:
            reasons.append(f"{what}_scale / C_scale = {np.float32(scale) / np.float32(c_scale):.3g} > 1: the "
                           "accelerator saturates the scaled input before the sum, QLinearAdd does not")
    da, db = ix.dims(a), ix.dims(b)
    if da is None or db is None or None in da or None in db:
        reasons.append("input shapes unknown (QAdd needs identical shapes)")
    elif da != db:
        reasons.append(f"broadcasting add ({_dims(da)} and {_dims(db)}): QAdd needs identical shapes")
    return reasons or Plan(idx, "QAdd", [Operand(a, "act"), Operand(b, "act")], attrs, "any")


def _dims(dims: Sequence[Any]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


RULES = {
    "int8": {("", "QLinearConv"): _rule_qlinearconv, ("", "QLinearMatMul"): _rule_qlinearmatmul,
             ("com.microsoft", "QLinearAdd"): _rule_qlinearadd},
    "fp32": {("", "Conv"): _rule_conv, ("", "MatMul"): _rule_matmul, ("", "Gemm"): _rule_gemm},
}
_QUANTIZED_HINTS = {("", "QLinearConv"), ("", "QLinearMatMul"), ("com.microsoft", "QLinearAdd")}


def domain(node: onnx.NodeProto) -> str:
    return "" if node.domain == "ai.onnx" else node.domain


def not_candidate_reason(node: onnx.NodeProto, elem: str) -> str | None:
    key = (domain(node), node.op_type)
    if elem == "int8" and key in RULES["fp32"]:
        return f"float {node.op_type}: placed only on an fp32 accelerator configuration"
    if elem == "fp32" and key in _QUANTIZED_HINTS:
        return f"quantized {node.op_type}: placed only on an int8 accelerator configuration"
    if node.op_type == "QGemm":
        return "no systolic op for QGemm (rewrite Gemm as MatMul before quantizing to get QLinearMatMul)"
    if node.op_type in MAC_OPS or node.op_type.startswith("QLinear"):
        return f"no systolic op for {node.op_type}"
    return None


# ---- fusions --------------------------------------------------------------------------------------------------


def _pool_attrs(ix: GraphIndex, node: onnx.NodeProto) -> dict[str, list[int]] | str:
    """kernel/strides/pads of a MaxPool the accelerator can fuse, or why it cannot."""
    a = _attrs(node)
    kernel = list(a.get("kernel_shape", []))
    if len(kernel) != 2:
        return f"{len(kernel)}-D pool"
    if int(a.get("ceil_mode", 0)):
        return "ceil_mode=1"
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        return "dilated pool"
    if int(a.get("storage_order", 0)):
        return "storage_order=1"
    if len(node.output) > 1 and node.output[1] and (ix.uses(node.output[1]) or node.output[1] in ix.graph_outputs):
        return "its Indices output is used"
    reasons: list[str] = []
    strides = list(a.get("strides", [1, 1]))
    pads = _resolve_pads(ix, a, node.input[0], kernel, strides, [1, 1], reasons)
    if reasons:
        return reasons[0]
    if any(p >= k for p, k in zip(pads, kernel + kernel, strict=True)):
        return "pool padding as large as the kernel"
    return {"kernel": kernel, "strides": strides, "pads": pads}


def _dq_scale(ix: GraphIndex, node: onnx.NodeProto) -> np.float32 | None:
    """The per-tensor scale of a DequantizeLinear of int8 with zero point 0, else None."""
    x, s, z = _inputs(node, 3)
    scale = ix.const(s)
    if scale is None or scale.size != 1 or _elem(ix, x, z) != INT8:
        return None
    if z and (ix.const(z) is None or np.any(ix.const(z) != 0)):
        return None
    return np.float32(scale.reshape(-1)[0])


def _q_scale(ix: GraphIndex, node: onnx.NodeProto) -> np.float32 | None:
    """The per-tensor scale of a QuantizeLinear to int8 with an explicit zero point 0, else None."""
    _, s, z = _inputs(node, 3)
    scale, zp = ix.const(s), ix.const(z) if z else None
    if scale is None or scale.size != 1 or zp is None or zp.dtype != np.int8 or np.any(zp != 0):
        return None
    return np.float32(scale.reshape(-1)[0])


def fusion_steps(ix: GraphIndex, plan: Plan) -> tuple[list[Step], dict[int, str]]:
    """The single-consumer chain after a placed node that the accelerator can absorb.

    Absorbs Relu; MaxPool after a conv; and DequantizeLinear -> (Relu | MaxPool)* -> QuantizeLinear with the same
    per-tensor scale and zero points 0 (exactly the int8 ops on the quantized values). A DequantizeLinear chain not
    closed by a QuantizeLinear is absorbed too when it holds a Relu or MaxPool: the DequantizeLinear then moves after
    them (it commutes with both), see Plan.sunk_dq.
    """
    steps: list[Step] = []
    notes: dict[int, str] = {}
    t = ix.nodes[plan.idx].output[0]
    dq_scale: np.float32 | None = None
    can_pool = plan.op in ("QConv", "Conv")
    while True:
        c = ix.sole_consumer(t)
        if c is None:
            break
        node = ix.nodes[c]
        if domain(node) != "" or node.input[0] != t:
            break
        kind: str | None = None
        pool: dict[str, list[int]] | None = None
        if node.op_type == "Relu":
            kind = "relu"
        elif node.op_type == "MaxPool" and can_pool and not any(s.kind == "pool" for s in steps):
            attrs = _pool_attrs(ix, node)
            if isinstance(attrs, str):
                notes[c] = f"MaxPool not fused: {attrs}"
            else:
                kind, pool = "pool", attrs
        elif node.op_type == "DequantizeLinear" and dq_scale is None and ix.elem_type(t) in (INT8, 0):
            dq_scale = _dq_scale(ix, node)
            kind = "dq" if dq_scale is not None else None
        elif node.op_type == "QuantizeLinear" and dq_scale is not None and _q_scale(ix, node) == dq_scale:
            kind, dq_scale = "q", None
        if kind is None:
            break
        steps.append(Step(c, kind, pool))
        t = node.output[0]
    has_relu = any(s.kind == "relu" for s in steps)
    for i, s in enumerate(steps):
        if s.kind == "pool" and s.pool and any(s.pool["pads"]) and not has_relu:
            notes[s.idx] = ("MaxPool not fused: padded pool without a fused Relu (the accelerator pads with 0, "
                            "MaxPool ignores padding)")
            steps = steps[:i]
            break
    dqs = [i for i, s in enumerate(steps) if s.kind == "dq"]
    if dqs and not any(s.kind == "q" for s in steps[dqs[-1]:]):
        after = dqs[-1] + 1
        end = ix.nodes[steps[-1].idx].output[0]
        blocked = next((ix.nodes[c].op_type for c in ix.uses(end) if ix.nodes[c].op_type in _QDQ_PROPAGATING),
                       None) if len(steps) > after and opset_of(ix.model) >= 21 else None
        for s in steps[after:] if blocked else []:
            notes[s.idx] = (f"not fused: the DequantizeLinear moved after it would feed a {blocked}, which the "
                            "QDQ propagation of ONNX Runtime 1.31 rejects (opset >= 21)")
        if blocked or len(steps) == after:
            steps = steps[:dqs[-1]]  # the DequantizeLinear stays where it is
    return steps, notes


def apply_fusions(ix: GraphIndex, plan: Plan) -> dict[int, str]:
    """Set the plan's fused steps, moved DequantizeLinear and output tensor; returns why nodes were not fused."""
    plan.steps, notes = fusion_steps(ix, plan)
    dqs = [i for i, s in enumerate(plan.steps) if s.kind == "dq"]
    if dqs and not any(s.kind == "q" for s in plan.steps[dqs[-1]:]):
        plan.sunk_dq = plan.steps[dqs[-1]].idx
    last = plan.steps[-1].idx if plan.steps else plan.idx
    plan.output = ix.nodes[last].output[0]
    return notes
