"""The int8 ReLU post-pass: make QLinearConv -> Relu -> MaxPool chains int8 after quantize_static.

With symmetric activations ORT keeps Relu float between a DequantizeLinear (DQ) and a QuantizeLinear (Q), and the
MaxPool/Flatten after it float too. This pass
  1. sinks each per-tensor DQ past a single consumer that commutes with it exactly: Relu (zero point 0 only:
     max(q,0)*s == max(q*s,0)), MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze (they only move or select
     values), repeating until nothing moves;
  2. removes DQ -> Q pairs whose scale and zero point are identical (Q(DQ(q)) == q), reconnecting the Q's users to
     the int8 tensor.
Every step is exact, so the output is bit-identical to the model before the pass. int8 Relu needs opset >= 14.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from rcnn.errors import RcnnError
from rcnn.onnxgraph.graph import consumers, opset_of

MOVABLE = frozenset({"MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"})


def _consts(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def _qparams(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, zero point) of a Q/DQ node when both are per-tensor constants."""
    scale = consts.get(node.input[1])
    zp = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or zp is None or scale.size != 1 or zp.size != 1:
        return None
    return scale, zp


def _can_sink(dq: onnx.NodeProto, nxt: onnx.NodeProto, consts: dict[str, np.ndarray]) -> bool:
    if nxt.domain not in ("", "ai.onnx") or len(nxt.output) != 1 or nxt.input[0] != dq.output[0]:
        return False
    params = _qparams(dq, consts)
    if params is None:
        return False
    if nxt.op_type == "Relu":
        return int(params[1].item()) == 0
    return nxt.op_type in MOVABLE


def sink_dequantize(model: onnx.ModelProto) -> dict[str, tuple[str, int]]:
    """Move DQs past Relu/MaxPool/... (step 1); returns {new int8 tensor: (float tensor it mirrors, elem type)}."""
    graph, consts = model.graph, _consts(model.graph)
    moved: dict[str, tuple[str, int]] = {}
    outputs = {o.name for o in graph.output}
    changed = True
    while changed:
        changed = False
        users = consumers(graph)
        for dq in [n for n in graph.node if n.op_type == "DequantizeLinear"]:
            after = users.get(dq.output[0], [])
            if len(after) != 1 or dq.output[0] in outputs or not _can_sink(dq, after[0], consts):
                continue
            nxt = after[0]
            # nxt now reads the int8 tensor and writes a new int8 one; the DQ turns that back into nxt's old output.
            int8_out = f"{nxt.output[0]}_int8"
            float_out = nxt.output[0]
            nxt.input[0] = dq.input[0]
            nxt.output[0] = int8_out
            dq.input[0] = int8_out
            dq.output[0] = float_out
            zp = next(i for i in graph.initializer if i.name == dq.input[2])
            moved[int8_out] = (float_out, zp.data_type)
            changed = True
            break  # the user map is stale now
    return moved


def remove_dq_q_pairs(model: onnx.ModelProto) -> int:
    """Drop Q(DQ(q)) with matching parameters (step 2); returns the number of Q nodes removed."""
    graph, consts = model.graph, _consts(model.graph)
    producer = {t: n for n in graph.node for t in n.output}
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    dead: set[int] = set()
    for q in graph.node:
        if q.op_type != "QuantizeLinear" or q.output[0] in outputs:
            continue
        dq = producer.get(q.input[0])
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        a, b = _qparams(dq, consts), _qparams(q, consts)
        if a is None or b is None or a[1].dtype != b[1].dtype or a[0].item() != b[0].item() \
                or a[1].item() != b[1].item():
            continue
        rename[q.output[0]] = dq.input[0]
        dead.add(id(q))
    for n in graph.node:
        for i, t in enumerate(n.input):
            if t in rename:
                n.input[i] = rename[t]
    keep = [n for n in graph.node if id(n) not in dead]
    used = {t for n in keep for t in n.input} | outputs
    keep = [n for n in keep if n.op_type != "DequantizeLinear" or n.output[0] in used]  # DQs left unread
    del graph.node[:]
    graph.node.extend(keep)
    return len(dead)


def toposort(model: onnx.ModelProto) -> None:
    """Re-order nodes so each comes after its inputs' producers (sinking moves DQs downstream)."""
    graph = model.graph
    ready = {i.name for i in graph.initializer} | {i.name for i in graph.input} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = [n for n in pending if not all(t in ready for t in n.input)]
        done = [n for n in pending if all(t in ready for t in n.input)]
        if not done:
            raise RcnnError("int8 post-pass: the graph has a cycle or a dangling input")
        ordered += done
        ready.update(t for n in done for t in n.output)
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def int8_relu_pass(model: onnx.ModelProto) -> tuple[int, int]:
    """Run both steps in place; returns (DQ moves, DQ->Q pairs removed)."""
    opset = opset_of(model)
    if opset < 14:
        raise RcnnError(f"the int8 Relu post-pass needs opset >= 14, the model has {opset} (run rcnn.optimize)")
    moved = sink_dequantize(model)
    removed = remove_dq_q_pairs(model)
    toposort(model)
    _fix_value_info(model, moved)
    return len(moved), removed


def _fix_value_info(model: onnx.ModelProto, moved: dict[str, tuple[str, int]]) -> None:
    """Shapes for the new int8 tensors (reports need them for MAC counts); drop entries of removed ones."""
    graph = model.graph
    known = {v.name: v for v in graph.value_info}
    for int8_name, (float_name, elem) in moved.items():
        if float_name in known:
            v = onnx.ValueInfoProto()
            v.CopyFrom(known[float_name])
            v.name = int8_name
            v.type.tensor_type.elem_type = elem
            graph.value_info.append(v)
    live = {t for n in graph.node for t in (*n.input, *n.output)}
    keep = [v for v in graph.value_info if v.name in live]
    del graph.value_info[:]
    graph.value_info.extend(keep)
