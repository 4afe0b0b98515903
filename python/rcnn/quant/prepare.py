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

# ORT 1.21 (the riscv64 runtime) reads at most IR 10 / opset 22; int8 Relu needs opset 14.
MAX_IR = 10
MIN_IR = 7  # IR < 4 keeps initializers as inputs, which blocks BN folding; 7 is what version conversion gives
MIN_OPSET = 14
MAX_OPSET = 22


@dataclass
class PrepareReport:
    changes: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.changes.append(text)


def opset_of(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


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
    """ORT's quantization tools log warnings on the root logger (e.g. QInt8 speed on x64); hide them, then restore."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


@contextmanager
def working_directory(path: str | Path) -> Iterator[None]:
    """chdir for the duration (contextlib.chdir needs Python 3.11)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def pre_process(model: onnx.ModelProto, report: PrepareReport | None = None) -> onnx.ModelProto:
    """ORT's quant_pre_process (shapes, BN and Conv-Mul-Add folding, Constant -> initializer), in a temp dir.

    Symbolic shape inference cannot finish on detectors (data-dependent sizes after NMS/TopK: "Incomplete symbolic
    shape inference"); ONNX shape inference is enough there, so detectors skip it and other models that fail it
    are retried without it.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from rcnn.quant.ops import FLOAT_ONLY

    with tempfile.TemporaryDirectory(prefix="rcnn-optimize.") as d:
        src, dst = Path(d) / "in.onnx", Path(d) / "out.onnx"
        onnx.save(model, str(src))
        # It logs (not raises) optimizer failures; keep its logging quiet, the BN check in optimize() catches those.
        detector = any(n.op_type in FLOAT_ONLY for n in model.graph.node)
        for skip_symbolic in ((True,) if detector else (False, True)):
            try:
                # On failure the symbolic inference dumps sym_shape_infer_temp.onnx (+ data) into the cwd: use d.
                with quiet_ort_logging(), working_directory(d):
                    quant_pre_process(str(src), str(dst), skip_symbolic_shape=skip_symbolic)
                break
            except ImportError as e:
                raise RcnnError(f"quant_pre_process needs sympy ({e}); pip install 'sympy>=1.12'") from None
            except Exception as e:
                if not skip_symbolic and "symbolic shape inference" in str(e):
                    continue
                raise RcnnError(f"quant_pre_process failed: {type(e).__name__}: {e}".splitlines()[0]) from None
        if skip_symbolic and report is not None:
            report.add("shape inference: ONNX's only (symbolic inference cannot size data-dependent outputs)")
        return onnx.load(str(dst))


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    users: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for t in n.input:
            if t:
                users.setdefault(t, []).append(n)
    return users


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


def _unique(taken: set[str], base: str) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def replace_gemm(model: onnx.ModelProto) -> tuple[int, list[str]]:
    """Gemm(alpha=1, beta=1, transA=0) -> MatMul (+ Add of C). Returns (rewritten count, notes on skipped ones).

    A transB initializer is transposed in place only when this Gemm is its sole user; a shared one gets a transposed
    copy (the seed transposed it in place and silently broke the other users). A non-constant B gets a Transpose.
    """
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = consumers(graph)
    taken = {t for n in graph.node for t in (*n.input, *n.output)} | set(inits) | {n.name for n in graph.node}
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
                b_t = _unique(taken, f"{b}_transposed")
                graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w.T), b_t))
                b = b_t
            else:
                b_t = _unique(taken, f"{b}_transposed")
                nodes.append(helper.make_node("Transpose", [b], [b_t], name=_unique(taken, f"{base}_Transpose"),
                                              perm=[1, 0]))
                b = b_t
        out = n.output[0]
        mm_out = _unique(taken, f"{out}_MatMul") if c else out
        nodes.append(helper.make_node("MatMul", [a, b], [mm_out], name=_unique(taken, f"{base}_MatMul")))
        if c:
            nodes.append(helper.make_node("Add", [mm_out, c], [out], name=_unique(taken, f"{base}_Add")))
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count, skipped


def bn_after_conv(model: onnx.ModelProto) -> list[str]:
    """BatchNormalization nodes fed straight by a Conv: quant_pre_process should have folded them all."""
    producer = {t: n for n in model.graph.node for t in n.output}
    return [n.name or n.output[0] for n in model.graph.node
            if n.op_type == "BatchNormalization" and getattr(producer.get(n.input[0]), "op_type", None) == "Conv"]


def prune_opsets(model: onnx.ModelProto) -> None:
    """quant_pre_process adds imports for ai.onnx.ml, com.microsoft.nchwc, ...; keep only the domains in use."""
    used = {n.domain for n in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or (o.domain == "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def name_nodes(model: onnx.ModelProto) -> int:
    """Give unnamed nodes a name (node lists like --exclude-nodes and quantize_static match on names)."""
    taken = {n.name for n in model.graph.node if n.name}
    count = 0
    for i, n in enumerate(model.graph.node):
        if not n.name:
            n.name = _unique(taken, f"{n.op_type}_{i}")
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
    if model.ir_version > MAX_IR:
        report.add(f"IR {model.ir_version} -> {MAX_IR}")
        model.ir_version = MAX_IR
    model = onnx.shape_inference.infer_shapes(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise RcnnError(f"the optimized model is invalid: {str(e).splitlines()[0]}") from None
    return model, report
