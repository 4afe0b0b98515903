"""One quantize_static call (QOperator) with every option explicit, the detection rule, and the int8 post-pass.

Modes: `int8` = symmetric int8 activations and weights, zero points 0 (the reference accelerator's form); `u8s8` =
asymmetric uint8 activations with symmetric int8 weights (what accuracy often needs, and what the accelerator takes
whole with its zero-point config); `uint8` = asymmetric uint8 activations and weights (the seed's uint8 mode; the
accelerator declines convs whose w - zero point leaves int8).
Per-channel weight scales: on when asked, off when refused, and by default on exactly for models with depthwise convs
(one input channel per group), whose channels' weight ranges differ the most (per-tensor int8 breaks MobileNet-style
networks there).

Detection rule (models with NonMaxSuppression, RoiAlign, MaxRoiPool or TopK): only the dense network is
quantized. A node is dense when it is a Conv/MatMul/Gemm/ConvTranspose, or a Relu/Clip/MaxPool/Resize/Add whose data
inputs all come from dense nodes (constants aside). That takes in the backbone, the FPN (lateral convs, upsampling,
adds), the RPN head and the box and mask heads (their first Conv/MatMul reads RoiAlign's float output through a
QuantizeLinear), and keeps float everything that computes on boxes, scores and indices: anchor generation, box
decoding, the level mapper, NMS, RoiAlign, TopK and mask pasting. Quantizing those breaks the detections (and
crashes ORT in some cases, see shared/reference/maskrcnn-export.md). The prediction layers — dense Conv/MatMuls
that feed no other one, whose outputs (class logits, box deltas, mask logits) go straight to the float
post-processing — stay float too (float_predictions): on the demo model that is worth 1.7 box-AP points for a few
percent of the MACs, the usual "last layer in higher precision" of int8 deployments.
Precedence: --exclude-nodes > --include-nodes > the detection rule and the target-aware choice of Add / Mul
(rcnn.quant.target).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx

from rcnn.errors import RcnnError
from rcnn.onnxgraph.graph import MAX_IR_VERSION, consumer_map, opset_of
from rcnn.quant.int8_fixups import int8_relu_pass
from rcnn.quant.ops import is_detector, op_types_to_quantize
from rcnn.quant.prepare import (
    MIN_OPSET,
    PrepareReport,
    constants_to_initializers,
    name_nodes,
    normalize_versions,
    quiet_ort_logging,
)
from rcnn.quant.target import choose_elementwise

MODES = {"int": "int8", "int8": "int8", "u8s8": "u8s8", "uint8": "uint8"}
CALIBRATE_METHODS = ("minmax", "entropy", "percentile", "distribution")


@dataclass
class QuantizeOptions:
    mode: str = "int8"
    per_channel: bool | None = None  # None: on for models with depthwise convs (depthwise_convs())
    calibrate_method: str = "minmax"
    quantize_add: bool | None = None  # None: target-aware (rcnn.quant.target), True/False: every Add / none
    quantize_mul: bool | None = None
    exclude_nodes: Sequence[str] = ()
    include_nodes: Sequence[str] = ()
    float_predictions: bool = True  # detectors: keep the prediction layers (logits, box deltas) float
    moving_average: bool = False  # minmax: average the per-sample ranges instead of taking the extremes
    int8_post_pass: bool = True  # off only to compare against the pass (tests)


@dataclass
class QuantizeReport:
    float_by_rule: list[str]
    excluded: list[str]
    op_types: list[str]
    dq_moved: int = 0
    pairs_removed: int = 0
    notes: list[str] | None = None


DENSE_OPS = frozenset({"Conv", "MatMul", "Gemm", "ConvTranspose"})
# Ops that continue a dense computation; the value is how many leading inputs carry data (None = all). Resize's
# scales/sizes and Clip's bounds are parameters that may be computed from shapes, which must not break the chain.
FOLLOW_OPS: dict[str, int | None] = {"Relu": 1, "Clip": 1, "MaxPool": 1, "Resize": 1, "Add": None}
# Data movement between two dense layers (the pixel shuffle of an upsampling, a head's Flatten): it does not stop a
# layer from counting as feeding another (the int8 post-pass moves DequantizeLinear past these).
MOVE_OPS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze"})


def _dense(nodes: Sequence[onnx.NodeProto], constants: set[str], float_compute: set[int]) -> set[int]:
    """Indices of dense nodes: compute ops not in float_compute, and followers whose data inputs are all dense."""
    tensors: set[str] = set()
    dense: set[int] = set()
    for i, n in enumerate(nodes):  # topological order, so one pass propagates
        data = [t for t in n.input[:FOLLOW_OPS.get(n.op_type)] if t and t not in constants]
        if (n.op_type in DENSE_OPS and i not in float_compute) or \
                (n.op_type in FOLLOW_OPS and data and all(t in tensors for t in data)):
            tensors.update(n.output)
            dense.add(i)
    return dense


def _prediction_layers(nodes: Sequence[onnx.NodeProto], dense: set[int]) -> set[int]:
    """Dense compute nodes from which no other compute node is reached through dense or data-movement nodes: the
    layers whose outputs (logits, box deltas, mask logits) go straight to float post-processing."""
    readers = consumer_map(nodes)
    feeds = [False] * len(nodes)  # reaches a compute node
    for i in reversed(range(len(nodes))):
        for c in (c for t in nodes[i].output for c in readers.get(t, [])):
            if (c in dense or nodes[c].op_type in MOVE_OPS) and (nodes[c].op_type in DENSE_OPS or feeds[c]):
                feeds[i] = True
                break
    return {i for i in dense if nodes[i].op_type in DENSE_OPS and not feeds[i]}


def non_dense_nodes(model: onnx.ModelProto, float_predictions: bool = True) -> list[str]:
    """Names of the nodes outside the dense network (see the module docstring)."""
    nodes = list(model.graph.node)
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in nodes if n.op_type == "Constant" for o in n.output}
    dense = _dense(nodes, constants, set())
    if float_predictions:
        dense = _dense(nodes, constants, _prediction_layers(nodes, dense))
    return [n.name for i, n in enumerate(nodes) if i not in dense]


def _matching(names: Sequence[str], patterns: Sequence[str]) -> set[str]:
    return {n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)}


def excluded_nodes(model: onnx.ModelProto, opts: QuantizeOptions) -> tuple[list[str], list[str]]:
    """(nodes kept float by the detection rule after --include-nodes, all nodes to exclude)."""
    names = [n.name for n in model.graph.node]
    for pattern in (*opts.exclude_nodes, *opts.include_nodes):
        if not _matching(names, [pattern]):
            raise RcnnError(f"node pattern {pattern!r} matches no node name")
    rule = non_dense_nodes(model, opts.float_predictions) if is_detector(model) else []
    by_rule = [n for n in rule if n not in _matching(names, opts.include_nodes)]
    excluded = set(by_rule) | _matching(names, opts.exclude_nodes)
    return by_rule, [n for n in names if n in excluded]


def _ort_options(opts: QuantizeOptions) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    act_symmetric = opts.mode == "int8"
    w_symmetric = opts.mode in ("int8", "u8s8")
    method = {m.name.lower(): m for m in CalibrationMethod}[opts.calibrate_method]
    return dict(quant_format=QuantFormat.QOperator,
                activation_type=QuantType.QInt8 if act_symmetric else QuantType.QUInt8,
                weight_type=QuantType.QInt8 if w_symmetric else QuantType.QUInt8,
                per_channel=bool(opts.per_channel), reduce_range=False, calibrate_method=method,
                extra_options={"ActivationSymmetric": act_symmetric, "WeightSymmetric": w_symmetric,
                               "CalibMovingAverage": opts.moving_average})


def depthwise_convs(model: onnx.ModelProto) -> int:
    """Conv nodes with one input channel per group (group > 1 and equal to the weight's input channels x group)."""
    inits = {i.name: i for i in model.graph.initializer}
    count = 0
    for n in model.graph.node:
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w = inits.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if group > 1 and w is not None and len(w.dims) == 4 and w.dims[1] == 1:
            count += 1
    return count


def _mixed_sizes_hint(reader: object) -> str:
    """When the calibration samples come in several shapes, say so: a model with free H/W that fails on some of
    them (an FPN's Add that cannot broadcast) fails deep in ORT with no word of which sample."""
    from rcnn.runtime.tensors import load_tensor

    shapes: dict[tuple[int, ...], str] = {}
    for sample in getattr(reader, "samples", []):
        for f in sorted(Path(sample).glob("input_0.pb"))[:1]:
            shapes.setdefault(tuple(load_tensor(f)[0].shape), Path(sample).name)
    if len(shapes) < 2:
        return ""
    listed = ", ".join(f"{name} {list(shape)}" for shape, name in list(shapes.items())[:3])
    return (f" (the calibration samples come in {len(shapes)} shapes: {listed}; rebuild them at one size with "
            "rcnn.dataset --size H W, or --multiple-of the model's stride)")


def quantize_model(model: onnx.ModelProto, reader: object, opts: QuantizeOptions) -> tuple[onnx.ModelProto,
                                                                                          QuantizeReport]:
    """Quantize `model` with calibration data from `reader` (a CalibrationDataReader); nothing touches the cwd."""
    from onnxruntime.quantization import quantize_static

    if opts.mode not in MODES:
        raise RcnnError(f"unknown mode {opts.mode!r}; choose from {', '.join(MODES)}")
    per_channel = opts.per_channel
    if per_channel is None:
        depthwise = depthwise_convs(model)
        per_channel = depthwise > 0
        note = (f"per-channel weight scales: on ({depthwise} depthwise conv(s), whose channels' weight ranges differ "
                "the most)" if depthwise else "per-channel weight scales: off (no depthwise conv)")
    else:
        note = f"per-channel weight scales: {'on' if per_channel else 'off'} (asked)"
    # Resolved on a copy: the caller's options stay as given (a default stays a default for the next model).
    opts = dataclasses.replace(opts, mode=MODES[opts.mode], per_channel=per_channel)
    notes: list[str] = [note]
    if opts.mode == "int8" and opset_of(model) < MIN_OPSET:
        prep = PrepareReport()
        model = normalize_versions(model, prep)
        notes += [f"{c} (int8 Relu needs opset {MIN_OPSET}; run rcnn.optimize first to fold BN too)"
                  for c in prep.changes]
    constants = constants_to_initializers(model)
    if constants:
        notes.append(f"{constants} Constant node(s) -> initializers (weights must be initializers to be quantized "
                     "ahead of time; rcnn.optimize does this too)")
    if name_nodes(model):
        notes.append("named unnamed nodes")
    if opts.calibrate_method != "minmax" and is_detector(model):
        raise RcnnError(f"--calibrate_method {opts.calibrate_method} needs fixed-shape tensors (ORT stacks them); a "
                        "detector's RoI tensors change size per image: use minmax (with --moving-average)")
    by_rule, excluded = excluded_nodes(model, opts)
    choice = choose_elementwise(model, opts.quantize_add, opts.quantize_mul,
                                _matching([n.name for n in model.graph.node], opts.include_nodes))
    notes += [f"elementwise ops {line}" for line in choice.summary()]
    to_exclude = excluded + [n for n in choice.kept_float if n not in excluded]
    op_types = op_types_to_quantize(opts.quantize_add is not False, opts.quantize_mul is not False)
    with tempfile.TemporaryDirectory(prefix="rcnn-calibrate.") as d:
        src, dst = Path(d) / "float.onnx", Path(d) / "quant.onnx"
        onnx.save(model, str(src))
        try:
            with quiet_ort_logging():
                quantize_static(str(src), str(dst), reader, op_types_to_quantize=op_types,
                                nodes_to_exclude=to_exclude, **_ort_options(opts))
        except RcnnError:
            raise
        except Exception as e:
            first = f"quantize_static failed: {type(e).__name__}: {e}".splitlines()[0]
            raise RcnnError(first + _mixed_sizes_hint(reader)) from None
        quant = onnx.load(str(dst))
    if quant.ir_version > MAX_IR_VERSION:  # the target's ORT reads IR <= 10; int8 QOperator needs nothing newer
        notes.append(f"IR {quant.ir_version} -> {MAX_IR_VERSION}")
        quant.ir_version = MAX_IR_VERSION
    report = QuantizeReport(by_rule, excluded, op_types, notes=notes)
    if opts.mode == "int8" and opts.int8_post_pass:
        report.dq_moved, report.pairs_removed = int8_relu_pass(quant)
    return quant, report
