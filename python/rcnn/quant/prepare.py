"""Float-model preparation before quantization (backs `python -m rcnn.optimize`).

Order matters: quant_pre_process fuses MatMul+Add back into Gemm, so the Gemm rewrite runs after it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter

from rcnn.errors import RcnnError
from rcnn.onnxgraph.graph import MAX_IR_VERSION, MAX_OPSET, NameAllocator, consumers, opset_of, subgraph_references
from rcnn.quant.ops import is_detector

# The target's limits (MAX_IR_VERSION, MAX_OPSET) are rcnn.onnxgraph.graph's; int8 Relu needs opset 14.
MIN_IR = 7  # IR < 4 keeps initializers as inputs, which blocks BN folding; 7 is what version conversion gives
MIN_OPSET = 14


@dataclass
class PrepareReport:
    changes: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.changes.append(text)


def normalize_versions(model: onnx.ModelProto, report: PrepareReport) -> onnx.ModelProto:
    """Bring opset into [14, 22] (version converter), IR ≥ 7, and drop graph inputs that shadow initializers."""
    opset = opset_of(model)
    target = min(max(opset, MIN_OPSET), MAX_OPSET)
    if target != opset:
        try:
            model = version_converter.convert_version(model, target)
        except Exception as e:  # the converter raises plain RuntimeError/ValidationError on unsupported ops
            raise RcnnError(f"cannot convert the model from opset {opset} to {target}: {e}".splitlines()[0]) from None
        report.add(f"opset {opset} -> {target}")
    if model.ir_version < MIN_IR:
        report.add(f"IR {model.ir_version} -> {MIN_IR}")
        model.ir_version = MIN_IR
    inits = {i.name for i in model.graph.initializer}
    shadowing = [v for v in model.graph.input if v.name in inits]
    if shadowing:
        # Listed as inputs, initializers count as overridable: ORT would not constant-fold or fuse them.
        keep = [v for v in model.graph.input if v.name not in inits]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        report.add(f"removed {len(shadowing)} graph input(s) that shadowed initializers")
    return model


@contextmanager
def quiet_ort_logging() -> Iterator[None]:
    """ORT's quantization tools log warnings on the root logger (e.g. QInt8 speed on x64) and its sessions on the
    C++ logger; hide both, then restore."""
    import onnxruntime as ort

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    # The sessions they open log through ORT's C++ default logger too (one "Removing initializer ... not used"
    # warning per dead initializer: ~190 lines on an old-exporter model); errors come back as the exception that
    # the caller turns into its one-line message, so only fatal ones are let through.
    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        root.setLevel(level)
        ort.set_default_logger_severity(2)  # ORT's default (it has no getter)


@contextmanager
def working_directory(path: str | Path) -> Iterator[None]:
    """chdir for the duration (contextlib.chdir needs Python 3.11)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def failing_node(error: BaseException) -> str:
    """'Concat node "name"' for the ONNX node the symbolic shape inference was at when it raised (its frames hold
    it as the local `node`), '' when no frame does. Its asserts carry no message; the node is what a user can act on."""
    tb, found = error.__traceback__, ""
    while tb is not None:
        node = tb.tb_frame.f_locals.get("node")
        if isinstance(node, onnx.NodeProto):
            found = f"{node.op_type} node {node.name or node.output[0]!r}"
        tb = tb.tb_next
    return found


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def pre_process(model: onnx.ModelProto, report: PrepareReport | None = None) -> onnx.ModelProto:
    """ORT's quant_pre_process (shapes, BN and Conv-Mul-Add folding, Constant -> initializer), in a temp dir.

    Symbolic shape inference cannot finish on detectors (data-dependent sizes after NMS/TopK: "Incomplete symbolic
    shape inference"), and asserts on some graphs other tools export (a Concat of shape values on axis -1); ONNX
    shape inference is enough for what follows, so detectors skip it and any other model it fails on is retried
    without it, the failing node named in the report.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="rcnn-optimize.") as d:
        src, dst = Path(d) / "in.onnx", Path(d) / "out.onnx"
        onnx.save(model, str(src))
        fallback = "data-dependent outputs cannot be sized symbolically"
        # It logs (not raises) optimizer failures; keep its logging quiet, the BN check in optimize() catches those.
        for skip_symbolic in ((True,) if is_detector(model) else (False, True)):
            try:
                # On failure the symbolic inference dumps sym_shape_infer_temp.onnx (+ data) into the cwd: use d.
                with quiet_ort_logging(), working_directory(d):
                    quant_pre_process(str(src), str(dst), skip_symbolic_shape=skip_symbolic)
                break
            except ImportError as e:
                raise RcnnError(f"quant_pre_process needs sympy ({e}); pip install 'sympy>=1.12'") from None
            except Exception as e:
                where = failing_node(e)
                if not skip_symbolic:
                    fallback = f"symbolic inference failed ({_describe(e)}{' at ' + where if where else ''})"
                    continue
                raise RcnnError(f"quant_pre_process failed{' at ' + where if where else ''}: {_describe(e)}") from None
        if skip_symbolic and report is not None:
            report.add(f"shape inference: ONNX's only ({fallback})")
        return onnx.load(str(dst))


def sum_to_add(model: onnx.ModelProto) -> int:
    """Two-input Sum is Add (which can become QLinearAdd); returns how many were changed."""
    count = 0
    for n in model.graph.node:
        if n.op_type == "Sum" and n.domain in ("", "ai.onnx") and len(n.input) == 2:
            n.op_type = "Add"
            count += 1
    return count


def _attr(node: onnx.NodeProto, name: str, default: float | int) -> float | int:
    a = next((a for a in node.attribute if a.name == name), None)
    return default if a is None else helper.get_attribute_value(a)


def replace_gemm(model: onnx.ModelProto) -> tuple[int, list[str]]:
    """Gemm(alpha=1, beta=1, transA=0) -> MatMul (+ Add of C). Returns (rewritten count, notes on skipped ones).

    A transB initializer is transposed in place only when this Gemm is its sole user; a shared one gets a transposed
    copy (the seed transposed it in place and silently broke the other users). A non-constant B gets a Transpose.
    """
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = consumers(graph)
    taken = NameAllocator({t for n in graph.node for t in (*n.input, *n.output)} | set(inits)
                          | {n.name for n in graph.node})
    nodes: list[onnx.NodeProto] = []
    skipped: list[str] = []
    count = 0
    for n in graph.node:
        if n.op_type != "Gemm" or n.domain not in ("", "ai.onnx"):
            nodes.append(n)
            continue
        alpha, beta = _attr(n, "alpha", 1.0), _attr(n, "beta", 1.0)
        if alpha != 1.0 or beta != 1.0 or _attr(n, "transA", 0):
            skipped.append(f"{n.name or n.output[0]} (alpha={alpha}, beta={beta}, transA={_attr(n, 'transA', 0)})")
            nodes.append(n)
            continue
        a, b = n.input[0], n.input[1]
        c = n.input[2] if len(n.input) > 2 and n.input[2] else None
        base = n.name or n.output[0]
        if _attr(n, "transB", 0):
            if b in inits and len(users.get(b, [])) == 1:
                w = numpy_helper.to_array(inits[b])
                inits[b].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w.T), b))
            elif b in inits:
                w = numpy_helper.to_array(inits[b])
                b_t = taken.fresh(f"{b}_transposed")
                graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w.T), b_t))
                b = b_t
            else:
                b_t = taken.fresh(f"{b}_transposed")
                nodes.append(helper.make_node("Transpose", [b], [b_t], name=taken.fresh(f"{base}_Transpose"),
                                              perm=[1, 0]))
                b = b_t
        out = n.output[0]
        mm_out = taken.fresh(f"{out}_MatMul") if c else out
        nodes.append(helper.make_node("MatMul", [a, b], [mm_out], name=taken.fresh(f"{base}_MatMul")))
        if c:
            nodes.append(helper.make_node("Add", [mm_out, c], [out], name=taken.fresh(f"{base}_Add")))
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count, skipped


def _ints(node: onnx.NodeProto, name: str) -> list[int]:
    a = next((a for a in node.attribute if a.name == name), None)
    return list(a.ints) if a is not None else []


def _upsampling_only(node: onnx.NodeProto, weight: onnx.TensorProto | None) -> str | None:
    """Why a ConvTranspose is not a pure kernel == stride upsampling (None when it is)."""
    if weight is None or len(weight.dims) != 4:
        return "weights not a 2-D constant"
    if _ints(node, "strides") != list(weight.dims[2:]) or any(_ints(node, "pads")) \
            or any(_ints(node, "output_padding")) or any(d != 1 for d in _ints(node, "dilations")) \
            or _attr(node, "group", 1) != 1 or _ints(node, "output_shape") \
            or _attr(node, "auto_pad", b"NOTSET") != b"NOTSET":
        return "kernel != stride, or pads/output_padding/dilation/group/output_shape set"
    return None


class _Emitter:
    """Appends nodes and int64 constants with unique names derived from one label."""

    def __init__(self, graph: onnx.GraphProto, nodes: list[onnx.NodeProto], taken: NameAllocator,
                 label: str) -> None:
        self.graph, self.nodes, self.taken, self.label = graph, nodes, taken, label

    def const(self, values: list[int], what: str) -> str:
        name = self.taken.fresh(f"{self.label}_{what}")
        self.graph.initializer.append(numpy_helper.from_array(np.array(values, np.int64), name))
        return name

    def op(self, op_type: str, inputs: list[str], what: str, out: str | None = None, **attrs: object) -> str:
        out = out or self.taken.fresh(f"{self.label}_{what}")
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.taken.fresh(f"{self.label}_{op_type}"),
                                           **attrs))
        return out


def _pixel_shuffle(e: _Emitter, x: str, sized_like: str, out: str, cout: int, kh: int, kw: int) -> None:
    """[N, Cout*kh*kw, H, W] -> [N, Cout, H*kh, W*kw], channel (c, i, j) going to pixel (y*kh + i, x*kw + j).
    N, H, W are read at run time from `sized_like` (same N, H, W as x): a Mask R-CNN's RoI count, and in the exported
    graph its RoI size, are dynamic. Not from x itself: x must feed only the Reshape, so that the int8 post-pass can
    move its DequantizeLinear past the shuffle. (DepthToSpace says it in one op, but ORT 1.21 has no int8 kernel.)"""
    dims = e.op("Shape", [sized_like], "dims")
    batch = e.op("Slice", [dims, e.const([0], "at0"), e.const([1], "at1")], "batch")
    hw = e.op("Slice", [dims, e.const([2], "at2"), e.const([4], "at4")], "hw")
    shape6 = e.op("Concat", [batch, e.const([cout, kh, kw], "blocks"), hw], "shape6", axis=0)
    hw_up = e.op("Mul", [hw, e.const([kh, kw], "kernel")], "hw_up")
    shape4 = e.op("Concat", [batch, e.const([cout], "channels"), hw_up], "shape4", axis=0)
    blocks = e.op("Reshape", [x, shape6], "blocks6")
    shuffled = e.op("Transpose", [blocks], "shuffled", perm=[0, 1, 4, 2, 5, 3])  # -> [N, C, H, kh, W, kw]
    e.op("Reshape", [shuffled, shape4], "upsampled", out=out)


def _names_read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name the graph's nodes read, their If/Loop/Scan bodies' outer-scope reads included."""
    return {t for n in graph.node for t in (*n.input, *subgraph_references(n))}


def convtranspose_to_conv(model: onnx.ModelProto) -> tuple[int, list[str]]:
    """ConvTranspose whose kernel equals its stride (no overlap: the Mask R-CNN mask predictor's 2x2/2 upsampling)
    -> 1x1 Conv to Cout*kh*kw channels, then a pixel shuffle. Exact in real arithmetic; the Conv quantizes to
    QLinearConv and runs on the accelerator, where ORT has no int8 ConvTranspose at all. A Relu that is the sole
    consumer moves before the shuffle (elementwise ops commute with it), so it fuses into the conv.
    Returns (rewritten count, notes on skipped ones)."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = consumers(graph)
    graph_outputs = {o.name for o in graph.output}
    taken = NameAllocator({t for n in graph.node for t in (*n.input, *n.output)} | set(inits)
                          | {n.name for n in graph.node})
    skipped: list[str] = []
    nodes: list[onnx.NodeProto] = []
    absorbed: set[str] = set()  # names of the Relus moved before a shuffle
    replaced: set[str] = set()  # the ConvTransposes' weights and biases, dropped unless something else reads them
    count = 0
    for n in graph.node:
        if n.name and n.name in absorbed:
            continue
        if n.op_type != "ConvTranspose" or n.domain not in ("", "ai.onnx"):
            nodes.append(n)
            continue
        label = n.name or n.output[0]
        weight = inits.get(n.input[1])
        why = _upsampling_only(n, weight)
        if why or weight is None:
            skipped.append(f"{label} ({why})")
            nodes.append(n)
            continue
        wt = numpy_helper.to_array(weight)  # [Cin, Cout, kh, kw]
        cin, cout, kh, kw = wt.shape
        e = _Emitter(graph, nodes, taken, label)
        w_name = taken.fresh(f"{n.input[1]}_as_conv1x1")
        graph.initializer.append(numpy_helper.from_array(
            np.ascontiguousarray(wt.transpose(1, 2, 3, 0).reshape(cout * kh * kw, cin, 1, 1)), w_name))
        conv_in = [n.input[0], w_name]
        if len(n.input) > 2 and n.input[2]:
            b = numpy_helper.to_array(inits[n.input[2]])
            b_name = taken.fresh(f"{n.input[2]}_as_conv1x1")
            graph.initializer.append(numpy_helper.from_array(np.repeat(b, kh * kw).astype(b.dtype), b_name))
            conv_in.append(b_name)
        after = users.get(n.output[0], [])
        relu = after[0] if (len(after) == 1 and after[0].op_type == "Relu" and after[0].name
                            and n.output[0] not in graph_outputs) else None
        x = e.op("Conv", conv_in, "conv1x1", kernel_shape=[1, 1])
        if relu is not None:
            x = e.op("Relu", [x], "relu")
            absorbed.add(relu.name)
        _pixel_shuffle(e, x, n.input[0], relu.output[0] if relu is not None else n.output[0], cout, kh, kw)
        replaced.update(n.input[1:])
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    unused = replaced - _names_read(graph)
    keep = [i for i in graph.initializer if i.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return count, skipped


def _batchnorms(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto | None]]:
    """Each BatchNormalization with the node that produces its input (None: a graph input or initializer)."""
    producer = {t: n for n in model.graph.node for t in n.output}
    return [(n, producer.get(n.input[0])) for n in model.graph.node if n.op_type == "BatchNormalization"]


def bn_after_conv(model: onnx.ModelProto) -> list[str]:
    """BatchNormalization nodes fed straight by a Conv: quant_pre_process should have folded them all."""
    return [bn.name or bn.output[0] for bn, before in _batchnorms(model) if before is not None
            and before.op_type == "Conv"]


def bn_kept(model: onnx.ModelProto) -> list[str]:
    """'name after Add "a"' for each BatchNormalization left in the graph (none follows a Conv by now)."""
    return [f"{bn.name or bn.output[0]!r} after "
            + (f"{before.op_type} {before.name or before.output[0]!r}" if before else f"input {bn.input[0]!r}")
            for bn, before in _batchnorms(model)]


def prune_opsets(model: onnx.ModelProto) -> None:
    """quant_pre_process adds imports for ai.onnx.ml, com.microsoft.nchwc, ...; keep only the domains in use."""
    used = {n.domain for n in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or (o.domain == "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def constants_to_initializers(model: onnx.ModelProto) -> int:
    """Constant nodes holding a tensor (`value`) become initializers of the same name; returns how many.

    quantize_static quantizes only initializer weights: weights from a Constant node get a QuantizeLinear at run
    time instead, so the conv's weights are not a constant and the accelerator declines it. Lossless."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    moved = []
    for n in graph.node:
        if (n.op_type == "Constant" and n.domain in ("", "ai.onnx") and len(n.attribute) == 1
                and n.attribute[0].name == "value" and n.output[0] not in outputs):
            tensor = onnx.TensorProto()
            tensor.CopyFrom(n.attribute[0].t)
            tensor.name = n.output[0]
            graph.initializer.append(tensor)
            moved.append(n)
    for n in moved:
        graph.node.remove(n)
    return len(moved)


def name_nodes(model: onnx.ModelProto) -> int:
    """Give unnamed nodes a name (node lists like --exclude-nodes and quantize_static match on names)."""
    taken = NameAllocator(n.name for n in model.graph.node if n.name)
    count = 0
    for i, n in enumerate(model.graph.node):
        if not n.name:
            n.name = taken.fresh(f"{n.op_type}_{i}")
            count += 1
    return count


def optimize(model: onnx.ModelProto, gemm: bool = False) -> tuple[onnx.ModelProto, PrepareReport]:
    """The whole optimize flow; returns the new model and what changed."""
    report = PrepareReport()
    before = Counter(n.op_type for n in model.graph.node)
    model = normalize_versions(model, report)
    named = name_nodes(model)
    if named:
        report.add(f"named {named} unnamed node(s)")
    model = pre_process(model, report)
    after = Counter(n.op_type for n in model.graph.node)
    for op in ("BatchNormalization", "Constant", "Mul", "Add"):
        if after[op] < before[op]:
            report.add(f"{op}: {before[op] - after[op]} removed by quant_pre_process (folded)")
    left = bn_after_conv(model)
    if left:
        raise RcnnError(f"BatchNormalization after Conv not folded: {', '.join(left)}")
    for bn in bn_kept(model):
        report.add(f"BatchNormalization kept: {bn} (only a BN right after a Conv folds; this one stays a float op "
                   "on the CPU between a DequantizeLinear and a QuantizeLinear once quantized)")
    upsampled, kept = convtranspose_to_conv(model)
    if upsampled:
        report.add(f"ConvTranspose -> 1x1 Conv + pixel shuffle: {upsampled} (kernel = stride; the conv can be "
                   "quantized and run on the accelerator)")
    for k in kept:
        report.add(f"ConvTranspose kept: {k}")
    summed = sum_to_add(model)
    if summed:
        report.add(f"Sum -> Add: {summed}")
    if gemm:
        count, skipped = replace_gemm(model)
        if count:
            report.add(f"Gemm -> MatMul(+Add): {count} (MatMuls at the end of a network are sensitive to "
                       "quantization)")
        for s in skipped:
            report.add(f"Gemm kept: {s}")
    prune_opsets(model)
    if model.ir_version > MAX_IR_VERSION:
        report.add(f"IR {model.ir_version} -> {MAX_IR_VERSION}")
        model.ir_version = MAX_IR_VERSION
    model = onnx.shape_inference.infer_shapes(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise RcnnError(f"the optimized model is invalid: {str(e).splitlines()[0]}") from None
    return model, report
