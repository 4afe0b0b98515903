"""Target-aware choice of the elementwise ops to quantize (rcnn.calibrate's default, --quantize-add/--quantize-mul
unset): quantize what the accelerator runs, keep float what only the CPU would run more slowly quantized.

- Add: a residual add (two activations of the same shape) is quantized: it becomes QLinearAdd, which the accelerator
  runs as its resadd. An Add with a constant or a broadcast input (hard-swish's x + 3, hard-sigmoid's, a bias) has
  no accelerator op; quantized it becomes a scalar-broadcast QLinearAdd on the CPU.
- Mul: the accelerator has no multiply; quantized, hard-swish's x * relu6(x + 3) / 6 and squeeze-and-excitation's
  scaling become QLinearMul on the CPU.
Those CPU ops are the slow ones under qemu: on mobile networks ORT's QLinearMul / QLinearAdd took 4.6 s and 4.1 s
of a recognizer's run against 0.4 s of its convs (issue 13), and keeping them float (one DequantizeLinear /
QuantizeLinear pair around a float op) ran 4x faster with equal or better accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

ELEMENTWISE = ("Add", "Mul")


@dataclass
class OpChoice:
    """Per elementwise node: quantized or kept float, and why (rcnn.calibrate prints the counts)."""

    quantized: dict[str, str] = field(default_factory=dict)  # node name -> reason
    kept_float: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[str]:
        lines = []
        for what, table in (("quantized", self.quantized), ("kept float", self.kept_float)):
            reasons: dict[str, int] = {}
            for reason in table.values():
                reasons[reason] = reasons.get(reason, 0) + 1
            lines += [f"{what}: {n} {reason}" for reason, n in sorted(reasons.items())]
        return lines


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int | str | None, ...] | None]:
    """Static or symbolic dims of every value ONNX shape inference can size (None for an unknown rank)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is a help here, not a requirement: unknown shapes fall back below
        inferred = model
    g = inferred.graph
    shapes: dict[str, tuple[int | str | None, ...] | None] = {}
    for v in (*g.input, *g.value_info, *g.output):
        t = v.type.tensor_type
        if t.HasField("shape"):
            shapes[v.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                   for d in t.shape.dim)
        else:
            shapes[v.name] = None
    return shapes


def _is_residual(node: onnx.NodeProto, constants: set[str],
                 shapes: dict[str, tuple[int | str | None, ...] | None]) -> str | None:
    """None when `node` is a residual add, else why not."""
    a, b = node.input[0], node.input[1]
    if a in constants or b in constants:
        return "adds with a constant input (no accelerator op; a scalar QLinearAdd on the CPU)"
    sa, sb = shapes.get(a), shapes.get(b)
    if sa is None or sb is None:
        return None  # unknown shapes: as before, quantized (the EP declines it if it is not a residual add)
    if sa != sb or any(d is None for d in sa):
        return "broadcasting adds (no accelerator op; a broadcast QLinearAdd on the CPU)"
    return None


def choose_elementwise(model: onnx.ModelProto, quantize_add: bool | None, quantize_mul: bool | None,
                       include: set[str] | frozenset[str] = frozenset()) -> OpChoice:
    """Which Add / Mul nodes to quantize. True / False force all / none of that op type; None is target-aware,
    except for the nodes in `include` (--include-nodes), which are quantized."""
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    shapes = _shapes(model) if quantize_add is None else {}
    choice = OpChoice()
    for node in model.graph.node:
        if node.op_type not in ELEMENTWISE or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        forced = quantize_add if node.op_type == "Add" else quantize_mul
        if forced is None and node.name in include:
            choice.quantized[node.name] = f"{node.op_type}s (--include-nodes)"
        elif forced is not None:
            table = choice.quantized if forced else choice.kept_float
            table[node.name] = f"{node.op_type}s (--{'' if forced else 'no-'}quantize-{node.op_type.lower()})"
        elif node.op_type == "Mul":
            choice.kept_float[node.name] = "Muls (no accelerator op; QLinearMul on the CPU is slower than float)"
        elif (why := _is_residual(node, constants, shapes)) is None:
            choice.quantized[node.name] = "residual adds (the accelerator's resadd)"
        else:
            choice.kept_float[node.name] = why
    return choice
