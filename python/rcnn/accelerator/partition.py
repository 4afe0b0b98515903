"""The partitioner (the library of python -m rcnn.partition): place a quantized model's nodes on the systolic
accelerator (our GetCapability).

Reads a QOperator-format ONNX model and rewrites every node the accelerator can run as an `rcnn.systolic` op
(QConv, QMatMul, QAdd; Conv, MatMul with --elem fp32; see ep/ort/README.md), fusing a following Relu and, after a
conv, a MaxPool. Everything else stays as it was, for ONNX Runtime's CPU EP. Feature maps stay NHWC between systolic
ops; Transposes are inserted only where a tensor crosses to the CPU or the graph's interface (at most one per tensor
and direction). The model's inputs and outputs keep their names, types and shapes.

Returns the placement report: every node's placement, the reason a candidate was declined, fusions, inserted
transposes and the share of multiply-accumulates on the accelerator. Results are cached by the model's bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from rcnn.accelerator.layout import NHWC, ORIG, LayoutTracker
from rcnn.accelerator.partition_rules import (
    INT8,
    RULES,
    Operand,
    Plan,
    apply_fusions,
    domain,
    macs,
    not_candidate_reason,
)
from rcnn.accelerator.placement import CPU, SYSTOLIC, NodePlacement, PlacementReport
from rcnn.errors import RcnnError, RefusedInput
from rcnn.files import atomic_copy, atomic_write
from rcnn.onnxgraph import gate
from rcnn.onnxgraph.graph import MAX_IR_VERSION, MAX_OPSET, NameAllocator, opset_of, subgraph_references
from rcnn.onnxgraph.graph_index import GraphIndex, TensorType

DOMAIN = "rcnn.systolic"
DOMAIN_VERSION = 1
ELEMS = ("int8", "fp32")
RULES_VERSION = "1"  # bump when placement rules change (the cache key also hashes the partitioner's sources)
_SOURCES = ("accelerator/partition.py", "accelerator/partition_rules.py", "accelerator/layout.py",
            "accelerator/placement.py", "onnxgraph/graph_index.py", "onnxgraph/graph.py")

QADD_NOTE = ("QAdd uses Gemmini's double rounding (each input scaled, rounded and saturated on its own, then summed "
             "and saturated): its output may differ from ONNX Runtime's QLinearAdd by 1 LSB (accepted difference; "
             "adds whose input/output scale ratio exceeds 1, where the gap grows, stay on the CPU)")


def partitioner_version() -> str:
    """Rules version plus a hash of the partitioner's sources: any code change invalidates cached results."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent.parent  # the rcnn package
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return f"{RULES_VERSION}+{h.hexdigest()[:12]}"


# ---------------------------------------------------------------------------------------------------------------
# Rewriting
# ---------------------------------------------------------------------------------------------------------------


class _Rewriter:
    def __init__(self, ix: GraphIndex, plans: dict[int, Plan]) -> None:
        self.ix = ix
        self.plans = plans
        g = ix.graph
        tensor_names = {v.name for v in [*g.input, *g.output, *g.value_info]} | set(ix.initializers)
        tensor_names |= {t for n in ix.nodes for t in [*n.input, *n.output] if t}
        self.names = NameAllocator(tensor_names)
        self.node_names = NameAllocator(n.name for n in ix.nodes if n.name)
        self.nodes: list[onnx.NodeProto] = []
        self.layout = LayoutTracker(self.names, self.node_names, self.nodes.append)
        self.new_inits: dict[tuple[str, str], onnx.TensorProto] = {}
        self.extra_types: dict[str, TensorType] = {}  # types of new tensors (orig-layout names), for value_info
        self.absorbed = {s.idx for p in plans.values() for s in p.steps if s.idx != p.sunk_dq}
        self.systolic_names: dict[int, str] = {}

    def derived(self, operand: Operand) -> str:
        if operand.kind == "const":
            return operand.name
        key = (operand.name, operand.kind)
        if key not in self.new_inits:
            value = self.ix.const(operand.name)
            assert value is not None
            suffix = {"hwio": "hwio", "transpose": "kn", "vector": "vec"}[operand.kind]
            if operand.kind == "hwio":
                value = value.transpose(2, 3, 1, 0)
            elif operand.kind == "transpose":
                value = value.T
            else:
                value = np.broadcast_to(value.reshape(-1), (operand.size,))
            name = self.names.fresh(f"{operand.name}_{suffix}")
            self.new_inits[key] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return self.new_inits[key].name

    def output_demands(self, plan: Plan) -> set[str]:
        """The layouts the consumers of a placed node's output want (QAdd consumers are flexible)."""
        if plan.sunk_dq is not None:
            return {ORIG}
        demands: set[str] = set()
        if plan.output in self.ix.graph_outputs:
            demands.add(ORIG)
        for c in self.ix.uses(plan.output):
            other = self.plans.get(c)
            if other is None or other.layouts == "orig" or (other.layouts == "nhwc" and
                                                            self.ix.nodes[c].input[0] != plan.output):
                demands.add(ORIG)
            elif other.layouts == "nhwc":
                demands.add(NHWC)
        return demands

    def choose_layout(self, plan: Plan) -> str:
        if plan.layouts != "any":
            return NHWC if plan.layouts == "nhwc" else ORIG
        acts = {o.name for o in plan.operands if o.kind == "act"}
        dims = [self.ix.dims(a) for a in acts]
        if not all(d is not None and len(d) == 4 for d in dims):
            return ORIG
        demands = self.output_demands(plan)

        def cost(layout: str) -> int:
            return sum(not self.layout.has(a, layout) for a in acts) + sum(d != layout for d in demands)

        nhwc, orig = cost(NHWC), cost(ORIG)
        if nhwc != orig:
            return NHWC if nhwc < orig else ORIG
        return NHWC if any(self.layout.has(a, NHWC) for a in acts) else ORIG

    def emit_plan(self, plan: Plan) -> None:
        node = self.ix.nodes[plan.idx]
        layout = self.choose_layout(plan)
        inputs = [self.layout.need(o.name, layout) if o.kind == "act" else self.derived(o) for o in plan.operands]
        if plan.sunk_dq is not None:
            plan.int8_output = self.names.fresh(f"{plan.output}_int8")
            self.extra_types[plan.int8_output] = TensorType(INT8, self.ix.dims(plan.output))
            out = self.layout.produce(plan.int8_output, layout)
        else:
            out = self.layout.produce(plan.output, layout)
        attrs = dict(plan.attrs)
        if plan.op in ("QConv", "Conv"):
            pool = plan.pool
            attrs.update(pool=int(pool is not None), pool_kernel=pool["kernel"] if pool else [1, 1],
                         pool_strides=pool["strides"] if pool else [1, 1],
                         pool_pads=pool["pads"] if pool else [0, 0, 0, 0])
        attrs["relu"] = int(plan.relu)
        name = node.name or self.node_names.fresh(f"{plan.op}_{plan.idx}")
        self.systolic_names[plan.idx] = name
        self.nodes.append(helper.make_node(plan.op, inputs, [out], name=name, domain=DOMAIN, **attrs))

    def emit_sunk_dq(self, plan: Plan) -> None:
        """The DequantizeLinear moved after the fused ops, at the place of the last one (its inputs exist there)."""
        assert plan.sunk_dq is not None
        moved = onnx.NodeProto()
        moved.CopyFrom(self.ix.nodes[plan.sunk_dq])
        moved.input[0] = self.layout.need(plan.int8_output, ORIG)
        moved.output[0] = plan.output
        self.nodes.append(moved)

    def emit_cpu(self, node: onnx.NodeProto) -> None:
        for name in [*node.input, *sorted(subgraph_references(node))]:
            if name:
                self.layout.need(name, ORIG)
        self.nodes.append(node)

    def run(self) -> list[onnx.NodeProto]:
        sunk = {p.sunk_dq for p in self.plans.values() if p.sunk_dq is not None}
        sunk_after = {p.steps[-1].idx: p for p in self.plans.values() if p.sunk_dq is not None}
        for idx, node in self.ix.iter_nodes():
            if idx in sunk_after:
                self.emit_sunk_dq(sunk_after[idx])
            if idx in self.absorbed or idx in sunk:
                continue
            if idx in self.plans:
                self.emit_plan(self.plans[idx])
            else:
                self.emit_cpu(node)
        for name in self.ix.graph_outputs:
            self.layout.need(name, ORIG)
        return self.nodes


def _value_infos(ix: GraphIndex, rw: _Rewriter, nodes: list[onnx.NodeProto]) -> list[onnx.ValueInfoProto]:
    produced = {t for n in nodes for t in n.output if t}
    interface = set(ix.graph_inputs) | set(ix.graph_outputs)
    keep = [v for v in ix.graph.value_info if v.name in produced and v.name not in interface]
    have = {v.name for v in keep} | interface
    types = {**ix.types, **rw.extra_types}
    orig_of = {nh: o for o, nh in rw.layout.nhwc_of.items()}
    for n in nodes:
        if n.domain != DOMAIN:
            continue
        out = n.output[0]
        orig = orig_of.get(out, out)
        t = types.get(orig)
        if out in have or t is None or not t.elem:
            continue
        dims = t.dims
        if out != orig and dims is not None:
            dims = (dims[0], *dims[2:], dims[1])
        have.add(out)
        keep.append(helper.make_tensor_value_info(out, t.elem, None if dims is None else list(dims)))
    for orig, nh in rw.layout.nhwc_of.items():  # NHWC copies of CPU tensors made by Transposes
        t = types.get(orig)
        if nh in have or nh not in produced or t is None or not t.elem or t.dims is None:
            continue
        have.add(nh)
        keep.append(helper.make_tensor_value_info(nh, t.elem, [t.dims[0], *t.dims[2:], t.dims[1]]))
    return keep


def _node_name(node: onnx.NodeProto, idx: int) -> str:
    return node.name or f"{node.op_type}_{idx}"


_QUANTIZED_OPS = ("QGemm", "ConvInteger", "MatMulInteger")


class NothingToPlace(RcnnError):
    """The model has nothing of the element type the accelerator works on. The message names no flag: each caller
    says how its own command line chooses the element type."""


def _check_elem(ix: GraphIndex, elem: str) -> None:
    """NothingToPlace when the model has nothing of the kind this accelerator configuration works on."""
    if elem not in ELEMS:
        raise RcnnError(f"unknown element type {elem!r} (choose {' or '.join(ELEMS)})")
    ops = {(domain(n), n.op_type) for n in ix.nodes}
    if elem == "fp32":
        if not ops & set(RULES["fp32"]):
            raise NothingToPlace("the model has no float Conv/MatMul/Gemm nodes for the fp32 accelerator")
        return
    if not any(op.startswith("QLinear") or op in _QUANTIZED_OPS for _, op in ops):
        hint = " (it looks QDQ-format: quantize with quant_format=QOperator)" if ("", "QuantizeLinear") in ops else ""
        raise NothingToPlace(f"the model has no int8 QOperator nodes (QLinearConv, QLinearMatMul, QLinearAdd){hint}")


def partition_model(model: onnx.ModelProto, elem: str = "int8") -> tuple[onnx.ModelProto, PlacementReport]:
    """Place what the accelerator can run on rcnn.systolic ops; returns the new model and the placement report.

    The input model is not modified. Raises RcnnError for a model the partitioner cannot work on (no quantized
    nodes in int8 mode, no float Conv/MatMul/Gemm in fp32 mode); a model with nothing placeable is returned as is.
    """
    ix = GraphIndex(model)
    _check_elem(ix, elem)
    report = PlacementReport(model=model.graph.name, elem=elem, partitioner_version=partitioner_version())
    if ix.shape_note:
        report.notes.append(ix.shape_note)
    rules = RULES[elem]
    plans: dict[int, Plan] = {}
    declined: dict[int, str] = {}
    for idx, node in ix.iter_nodes():
        rule = rules.get((domain(node), node.op_type))
        if rule is None:
            continue
        result = rule(ix, idx, node)
        if isinstance(result, Plan):
            plans[idx] = result
        else:
            declined[idx] = "; ".join(dict.fromkeys(result))
    fusion_notes: dict[int, str] = {}
    for plan in plans.values():
        fusion_notes.update(apply_fusions(ix, plan))

    out_model = onnx.ModelProto()
    out_model.CopyFrom(model)
    if plans:
        rw = _Rewriter(ix, plans)
        nodes = rw.run()
        _assemble(out_model, ix, rw, nodes)
        report.transposes_to_nhwc, report.transposes_to_nchw = rw.layout.to_nhwc, rw.layout.to_nchw
        for n in nodes:
            if n.domain == DOMAIN:
                report.systolic_nodes[n.op_type] = report.systolic_nodes.get(n.op_type, 0) + 1
        if report.systolic_nodes.get("QAdd"):
            report.notes.append(QADD_NOTE)
        _fix_versions(out_model, report)
    else:
        rw = None
        report.notes.append("nothing placed: the model is unchanged")
    report.nodes = _placements(ix, plans, declined, fusion_notes, rw, elem)
    return out_model, report


def _assemble(out: onnx.ModelProto, ix: GraphIndex, rw: _Rewriter, nodes: list[onnx.NodeProto]) -> None:
    g = out.graph
    del g.node[:]
    g.node.extend(nodes)
    used = {t for n in nodes for t in n.input if t} | set(ix.graph_outputs)
    for n in nodes:
        used |= subgraph_references(n)
    inits = [i for i in ix.graph.initializer if i.name in used or i.name in ix.graph_inputs]
    del g.initializer[:]
    g.initializer.extend([*inits, *rw.new_inits.values()])
    infos = _value_infos(ix, rw, nodes)
    del g.value_info[:]
    g.value_info.extend(infos)
    if not any(o.domain == DOMAIN for o in out.opset_import):
        out.opset_import.append(helper.make_opsetid(DOMAIN, DOMAIN_VERSION))


def _fix_versions(model: onnx.ModelProto, report: PlacementReport) -> None:
    if model.ir_version > MAX_IR_VERSION:
        report.notes.append(f"IR version lowered from {model.ir_version} to {MAX_IR_VERSION} (ORT 1.21 on riscv64)")
        model.ir_version = MAX_IR_VERSION
    opset = opset_of(model)
    if opset > MAX_OPSET:
        report.notes.append(f"opset {opset} > {MAX_OPSET}: ORT 1.21 on riscv64 will reject this model "
                            "(convert the float model to an older opset before quantizing)")


def _placements(ix: GraphIndex, plans: dict[int, Plan], declined: dict[int, str], fusion_notes: dict[int, str],
                rw: _Rewriter | None, elem: str) -> list[NodePlacement]:
    fused: dict[int, tuple[int, str]] = {}
    for plan in plans.values():
        for s in plan.steps:
            role = {"relu": "fused relu", "pool": "fused pool"}.get(s.kind, "fused quantize pair")
            fused[s.idx] = (plan.idx, role)
    out: list[NodePlacement] = []
    for idx, node in ix.iter_nodes():
        entry = NodePlacement(_node_name(node, idx), node.op_type, node.domain, CPU, macs=macs(ix, node))
        if idx in plans:
            entry.placement, entry.role = SYSTOLIC, plans[idx].op
            entry.systolic_node = rw.systolic_names[idx] if rw else None
        elif idx in fused:
            owner, role = fused[idx]
            owner_name = rw.systolic_names[owner] if rw else None
            if plans[owner].sunk_dq == idx:
                entry.reason = f"moved after {owner_name}'s fused Relu/MaxPool (commutes with them)"
            else:
                entry.placement, entry.systolic_node, entry.role = SYSTOLIC, owner_name, role
        elif idx in declined:
            entry.reason = declined[idx]
        elif idx in fusion_notes:
            entry.reason = fusion_notes[idx]
        else:
            entry.reason = not_candidate_reason(node, elem)
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Files and the cache
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class PartitionResult:
    model_path: Path | None  # the partitioned model on disk (the output path, else the cache entry), if written
    report: PlacementReport


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rcnn" / "partition"


def cache_limit() -> int:
    """Bytes the cache may hold (RCNN_PARTITION_CACHE_MB, default 2048); least recently used entries go first."""
    try:
        return int(float(os.environ.get("RCNN_PARTITION_CACHE_MB", "2048")) * 2**20)
    except ValueError:
        raise RcnnError("RCNN_PARTITION_CACHE_MB must be a number of megabytes") from None


STALE_TEMP_S = 3600  # a temp file this old belongs to a writer that was killed (atomic writes take seconds)


def _sweep_temp_files(directory: Path) -> None:
    """Remove what killed writers left: atomic_write's hidden temp files, once clearly abandoned."""
    now = time.time()
    for tmp in directory.glob(".*"):
        with contextlib.suppress(OSError):
            if tmp.is_file() and now - tmp.stat().st_mtime > STALE_TEMP_S:
                tmp.unlink()


def _evict(directory: Path, keep: str, limit: int) -> list[str]:
    """Remove the least recently used entries (their .json is touched on every hit) until the cache fits in
    `limit` bytes; the entry `keep` stays. Returns the evicted keys."""
    _sweep_temp_files(directory)
    entries = []
    for meta in directory.glob("*.json"):
        key = meta.stem
        try:
            size = meta.stat().st_size + (directory / f"{key}.onnx").stat().st_size
            data = directory / f"{key}.onnx.data"
            size += data.stat().st_size if data.exists() else 0
            entries.append((meta.stat().st_mtime, key, size))
        except OSError:
            continue
    total = sum(size for _, _, size in entries)
    evicted = []
    for _, key, size in sorted(entries):
        if total <= limit:
            break
        if key == keep:
            continue
        for suffix in (".json", ".onnx", ".onnx.data"):  # the report first: without it the entry is incomplete
            (directory / f"{key}{suffix}").unlink(missing_ok=True)
        total -= size
        evicted.append(key)
    return evicted


def cache_key(model_bytes: bytes, elem: str, data_files: Sequence[Path] = ()) -> str:
    """Hash of everything the result depends on: the model's bytes, its external data files (so changed weights
    miss), the partitioner's version and the options."""
    h = hashlib.sha256()
    h.update(model_bytes)
    for f in data_files:
        h.update(b"\0" + f.name.encode() + b"\0")
        with f.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                h.update(chunk)
    h.update(b"\0" + partitioner_version().encode())
    h.update(b"\0" + json.dumps({"elem": elem}, sort_keys=True).encode())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_cache(directory: Path, key: str) -> PlacementReport | None:
    """The cached report when the entry is complete and intact (its files' hashes check), else None."""
    meta_path, model_path = directory / f"{key}.json", directory / f"{key}.onnx"
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        if _sha256(model_path) != meta["model_sha256"]:
            return None
        data_sha = meta.get("data_sha256")
        if data_sha is not None and _sha256(directory / f"{key}.onnx.data") != data_sha:
            return None
        report = PlacementReport.from_json(json.dumps(meta["report"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    report.from_cache, report.cache_key = True, key
    with contextlib.suppress(OSError):
        os.utime(meta_path)  # recently used: evicted last
    return report


def _write_cache(directory: Path, key: str, serialized: SerializedModel, report: PlacementReport) -> Path:
    model_path = directory / f"{key}.onnx"
    # The model (and its data) first: the report marks the entry complete.
    if serialized.data is not None:
        atomic_write(directory / f"{key}.onnx.data", serialized.data)
    atomic_write(model_path, serialized.model)
    meta = {"key": key, "model_sha256": hashlib.sha256(serialized.model).hexdigest(),
            "data_sha256": None if serialized.data is None else hashlib.sha256(serialized.data).hexdigest(),
            "report": report.to_dict()}
    atomic_write(directory / f"{key}.json", (json.dumps(meta, indent=2) + "\n").encode())
    _evict(directory, key, cache_limit())
    return model_path


def parse_model(data: bytes, path: Path) -> onnx.ModelProto:
    """The model in `data` (read from `path`), or a one-line RefusedInput (exit 3, as rcnn.gate refuses it)."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # DecodeError, ValueError, ... for anything that is not a model
        raise RefusedInput(f"cannot read model {path}: not an ONNX model ({type(e).__name__})") from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.node:
        raise RefusedInput(f"cannot read model {path}: not an ONNX model (no graph)")
    return model


@dataclass
class SerializedModel:
    model: bytes
    data: bytes | None  # external data (for models over protobuf's 2 GiB), referenced by the model under its name


PROTOBUF_LIMIT = 2**31 - 2**20  # protobuf cannot serialize 2 GiB; leave room for the graph itself
EXTERNAL_MIN_BYTES = 1024  # smaller tensors stay inline when weights move out


def serialize(model: onnx.ModelProto, data_name: str) -> SerializedModel:
    """The model's bytes; one that protobuf cannot hold in one message keeps its large initializers in an external
    data blob named `data_name` (to be written beside the model)."""
    if model.ByteSize() < PROTOBUF_LIMIT:
        return SerializedModel(model.SerializeToString(), None)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    blob = bytearray()
    for t in out.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL or len(t.raw_data) < EXTERNAL_MIN_BYTES:
            continue
        offset = len(blob)
        blob += t.raw_data
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        del t.external_data[:]
        for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(blob) - offset))):
            t.external_data.add(key=k, value=v)
    return SerializedModel(out.SerializeToString(), bytes(blob))


def write_output(path: Path, serialized: SerializedModel | bytes) -> None:
    """Atomic writes of a file the user named (and its external data): an OSError is a one-line RcnnError."""
    if isinstance(serialized, bytes):
        serialized = SerializedModel(serialized, None)
    try:
        if serialized.data is not None:
            atomic_write(path.with_name(path.name + ".data"), serialized.data)
        atomic_write(path, serialized.model)
    except OSError as e:
        raise RcnnError(f"cannot write {path}: {e.strerror or e}") from None


def _copy_cached(directory: Path, key: str, output: Path) -> None:
    cached = directory / f"{key}.onnx"
    data = directory / f"{key}.onnx.data"
    if not data.exists():
        try:
            atomic_copy(cached, output)
        except OSError as e:
            raise RcnnError(f"cannot write {output}: {e.strerror or e}") from None
        return
    model = onnx.load(str(cached), load_external_data=True)  # re-point its data at the output's own file
    write_output(output, serialize(model, output.name + ".data"))


def partition_file(model_path: str | Path, output: str | Path | None = None, *, elem: str = "int8",
                   use_cache: bool = True, cache_directory: str | Path | None = None) -> PartitionResult:
    """partition_model on a file, cached by the model's bytes, its external data, the partitioner's version and the
    options. The model passes rcnn.onnxgraph.gate first (external data only inside its folder, consistent tensors).

    The result is written to `output` when given (atomically). With the cache, the partitioned model also lives
    in the cache directory (default ${XDG_CACHE_HOME:-~/.cache}/rcnn/partition) and a second call returns at once.
    Partitioned models carry their weights inline (external data of their own only beyond 2 GiB), so a cached
    copy never depends on the folder of the model it came from.
    """
    if elem not in ELEMS:
        raise RcnnError(f"unknown element type {elem!r} (choose {' or '.join(ELEMS)})")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise RcnnError(f"model not found: {model_path}")
    data = model_path.read_bytes()
    model = parse_model(data, model_path)
    data_files = gate.check_model(model, model_path.parent)
    directory = Path(cache_directory) if cache_directory else cache_dir()
    key = cache_key(data, elem, data_files)
    if use_cache:
        report = _read_cache(directory, key)
        if report is not None:
            if output is not None:
                _copy_cached(directory, key, Path(output))
            report.model = str(model_path)
            return PartitionResult(Path(output) if output is not None else directory / f"{key}.onnx", report)
    if data_files:
        model = gate.load_model(model_path)  # the weights, read from the model's folder (checked above)
    new_model, report = partition_model(model, elem)
    report.model = str(model_path)
    written: Path | None = None
    if use_cache:
        report.cache_key = key
        try:
            written = _write_cache(directory, key, serialize(new_model, f"{key}.onnx.data"), report)
        except OSError as e:
            report.notes.append(f"partition cache {directory} not written ({e.strerror or e})")
    if output is not None:
        write_output(Path(output), serialize(new_model, Path(output).name + ".data"))
        written = Path(output)
    return PartitionResult(written, report)
