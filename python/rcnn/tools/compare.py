"""python -m rcnn.compare: find the first layer where two runs of a model diverge (the tool for "this run looks
wrong").

The accelerator is reached as rcnn.run does it: through the Systolic plugin EP, whose placement is asked first (a
host session) so that the tensors inside one accelerator unit (between a conv and its fused ReLU, pool or
requantization, or a QDQ unit's float tensors) stay internal; every other intermediate tensor (each node output whose
element type is known or follows from the op) is made a graph output. The model then runs natively (host ort_test)
and under qemu-riscv64 (riscv64 ort_test) on the same prepared inputs. The table lists, in the graph's (topological)
node order: the layer, where it ran (accelerator or cpu), tensor, dtype, shape, max |a - b|, the number of differing
elements, for integer tensors the max difference in LSBs (the max |a - b| of the integer values), and a status. It
stops after the first divergent row unless --all.

--reference also runs the same model with the same intermediates exposed on ONNX Runtime's CPU EP in this process
(onnxruntime, no accelerator) and compares it with the qemu run, tensor by tensor.

Exposing intermediates keeps ONNX Runtime from fusing across them, so a run here may compute slightly differently
from the same model without the extra outputs (e.g. float Conv+Add fusions); int8 QOperator ops are not affected.
The residual add on the accelerator may differ from ONNX Runtime's QLinearAdd by 1 LSB (documented in
ep/ort/README.md): with --reference that shows up as a divergence at the add.

Exit status: 0 when every compared tensor is identical (floats: within --tolerance), 1 when a divergence is found,
2 for a bad command line (including a missing model, image or input file), 3 when no comparison could be made
(inputs that do not fit the model, a failed run).
A JSON report (--json) holds every compared row of every comparison, also those after the first divergence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.onnxgraph import gate
from rcnn.onnxgraph.graph_index import GraphIndex
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.runtime.inputs import prepare_inputs
from rcnn.runtime.native import run_native
from rcnn.runtime.runner import RunConfig, RunResult, resolve_device, run, systolic_ep_library
from rcnn.tools.runmodel import default_session_config

EXIT_SAME, EXIT_DIVERGED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
IDENTICAL, WITHIN = "identical", "within tolerance"
AGREE = (IDENTICAL, WITHIN)


# ---- exposing intermediates -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposed:
    """One tensor the comparison looks at, with the node that produces it."""

    tensor: str
    layer: str  # producer node's name (or op_type_index when unnamed)
    op: str  # producer's op type, domain-qualified when not the default domain
    elem: int  # onnx.TensorProto element type


def _op_label(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


def expose_intermediates(model: onnx.ModelProto, internal: frozenset[str] = frozenset()
                         ) -> tuple[onnx.ModelProto, list[Exposed], list[str]]:
    """A copy of `model` with every node output of known tensor type, except the `internal` ones, as a graph output
    (in node order).

    Returns the copy, the exposed tensors (existing graph outputs included, so they are compared too) and the names
    skipped because their type is unknown or not a tensor (sequences, maps); empty optional outputs are ignored.
    """
    ix = GraphIndex(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    already = set(ix.graph_outputs)
    exposed: list[Exposed] = []
    skipped: list[str] = []
    for idx, node in ix.iter_nodes():
        for name in node.output:
            if not name or (name in internal and name not in already):
                continue
            elem = ix.elem_type(name)
            if not elem or elem == onnx.TensorProto.UNDEFINED:
                skipped.append(name)
                continue
            exposed.append(Exposed(name, node.name or f"{node.op_type}_{idx}", _op_label(node), elem))
            if name not in already:
                # No shape: the runtimes take it from the node; a wrong guess here would fail the session.
                out.graph.output.append(helper.make_tensor_value_info(name, elem, None))
    return out, exposed, skipped


# ---- comparing arrays -----------------------------------------------------------------------------------------------


@dataclass
class Row:
    layer: str
    op: str
    tensor: str
    dtype: str
    shape: list[int]
    max_abs_diff: float | None
    differing: int | None
    max_lsb_diff: int | None  # integer tensors only
    status: str
    note: str = ""
    on: str = ""  # where the producing node ran: "accelerator" or "cpu" (Systolic EP runs), "" when not known
    unit: str = ""  # on the accelerator: the kind of EP unit the node belongs to (QConv, QMatMul, QAdd, ...)

    @property
    def diverges(self) -> bool:
        return self.status not in AGREE


def diff_arrays(a: np.ndarray, b: np.ndarray, tolerance: float = 0.0) -> tuple[float, int, int | None, str]:
    """(max |a-b|, #elements differing, max LSB difference or None for floats, status) of two same-shape arrays."""
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        # int64 so that int8 -128 - 127 does not wrap; bools count as 0/1.
        d = np.abs(a.astype(np.int64) - b.astype(np.int64))
        worst = int(d.max()) if d.size else 0
        count = int(np.count_nonzero(d))
        return float(worst), count, worst, IDENTICAL if count == 0 else "DIFFERS"
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(fa) & np.isnan(fb)
    with np.errstate(invalid="ignore"):
        d = np.where(both_nan, 0.0, np.abs(fa - fb))
    d = np.where(np.isnan(d), np.inf, d)  # NaN on one side only: as far apart as it gets
    worst = float(d.max()) if d.size else 0.0
    count = int(np.count_nonzero(d > tolerance))
    if worst == 0.0:
        return worst, 0, None, IDENTICAL
    return worst, count, None, WITHIN if count == 0 else "DIFFERS"


def compare_tensor(item: Exposed, a: np.ndarray | None, b: np.ndarray | None, tolerance: float) -> Row:
    row = Row(item.layer, item.op, item.tensor, "", [], None, None, None, "")
    if a is None or b is None:
        row.status = "missing"
        row.note = f"not in run {'A' if a is None else 'B'}"
        return row
    row.dtype, row.shape = str(a.dtype), list(a.shape)
    if a.dtype != b.dtype:
        row.status, row.note = "dtype differs", f"{a.dtype} vs {b.dtype}"
    elif a.shape != b.shape:
        row.status, row.note = "shape differs", f"{list(a.shape)} vs {list(b.shape)}"
    else:
        row.max_abs_diff, row.differing, row.max_lsb_diff, row.status = diff_arrays(a, b, tolerance)
    return row


def compare_runs(order: Sequence[Exposed], a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                 tolerance: float = 0.0) -> list[Row]:
    """One row per tensor of `order` (every one of them, also after a divergence)."""
    return [compare_tensor(item, a.get(item.tensor), b.get(item.tensor), tolerance) for item in order]


def first_divergence(rows: Sequence[Row]) -> int | None:
    return next((k for k, r in enumerate(rows) if r.diverges), None)


# ---- the reference: ONNX Runtime's CPU EP -----------------------------------------------------------------------


def run_reference(model: onnx.ModelProto, inputs: list[Path], work: Path, threads: int,
                  internal: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """Every intermediate (but `internal`) of `model` on ONNX Runtime's CPU EP (Python onnxruntime)."""
    exposed, _, _ = expose_intermediates(model, internal)
    path = work / "reference_exposed.onnx"
    onnx.save(exposed, str(path))
    return dict(run_native(path, inputs, threads=threads)[0])


# ---- the table ------------------------------------------------------------------------------------------------------


def _num(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:d}" if isinstance(value, int) else f"{value:.6g}"


def format_table(rows: Sequence[Row], show_all: bool = False) -> str:
    """Rows up to and including the first divergent one (all of them with show_all)."""
    stop = first_divergence(rows)
    shown = rows if show_all or stop is None else rows[:stop + 1]
    header = ("#", "layer", "op", "on", "tensor", "dtype", "shape", "max|diff|", "#diff", "LSB", "status")
    cells = [header] + [(str(k), r.layer, r.op, r.on or "-", r.tensor, r.dtype or "-",
                         str(r.shape) if r.dtype else "-", _num(r.max_abs_diff), _num(r.differing),
                         _num(r.max_lsb_diff), r.status + (f" ({r.note})" if r.note else ""))
                        for k, r in enumerate(shown)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in cells]
    if not show_all and stop is not None and stop + 1 < len(rows):
        lines.append(f"... {len(rows) - stop - 1} more tensor(s) after the first divergence (--all shows them)")
    return "\n".join(lines)


@dataclass
class Comparison:
    a: str
    b: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def first(self) -> int | None:
        return first_divergence(self.rows)

    def title(self) -> str:
        return f"== {self.a} vs {self.b}: {len(self.rows)} tensor(s) compared"

    def verdict(self) -> str:
        k = self.first
        if k is None:
            agree = sum(r.status == WITHIN for r in self.rows)
            return f"   no divergence ({agree} float tensor(s) within --tolerance)" if agree else "   all identical"
        r = self.rows[k]
        unit = f", in the accelerator's {r.unit}" if r.unit else ""
        text = f"   first divergence: row {k}, layer {r.layer} ({r.op}{unit}), tensor {r.tensor}: {r.status}"
        if self.a == "reference" and _is_accelerator_add(r) and r.max_lsb_diff == 1:
            # Not a bug: the accelerator's add rounds each input on its own (see the module docstring).
            text += ("\n   (1 LSB at a residual add on the accelerator is its documented rounding difference, "
                     "ep/ort/README.md)")
        elif r.max_lsb_diff is None and r.max_abs_diff is not None and r.max_abs_diff < 1e-4:
            text += "\n   (a tiny float difference: rounding of the two builds? see --tolerance, e.g. 1e-5)"
        return text

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "compared": len(self.rows),
                "first_divergence": self.first, "notes": self.notes, "rows": [asdict(r) for r in self.rows]}


def _is_accelerator_add(r: Row) -> bool:
    return r.unit == "QAdd"


# ---- the EP's units ---------------------------------------------------------------------------------------------


@dataclass
class EpPlacement:
    """What the Systolic EP decided for a model: where each node runs, and the tensors inside its units."""

    on: dict[str, str]  # node name -> "accelerator" | "cpu"
    unit: dict[str, str]  # node name -> kind of its accelerator unit ("QConv", "QAdd", ...)
    internal: frozenset[str]  # tensors produced and consumed only inside one accelerator unit
    mac_fraction: float


def ep_placement(model: onnx.ModelProto, path: Path, execution: int, adds: str = "accelerator") -> EpPlacement:
    """Asks the host's Systolic EP (a session that is created, not run) how it places `model`."""
    from rcnn.accelerator import ep

    report = ep.report(ep.session(path, mode=execution, adds=adds))
    on = {n["name"]: n["placement"] for n in report["nodes"]}
    unit = {n["name"]: n["unit"] for n in report["nodes"] if n["placement"] == "accelerator" and n.get("unit")}
    ix = GraphIndex(model)
    outputs = set(ix.graph_outputs)
    internal = set()
    for node in model.graph.node:
        u = unit.get(node.name)
        if u is None:
            continue
        for t in node.output:
            consumers = [ix.nodes[k].name for k in ix.consumers.get(t, [])]
            if t and t not in outputs and consumers and all(unit.get(c) == u for c in consumers):
                internal.add(t)
    kinds = {name: u.split(" ", 1)[0] for name, u in unit.items()}
    return EpPlacement(on, kinds, frozenset(internal), float(report["summary"]["accelerator_mac_fraction"]))


# ---- the pipeline ---------------------------------------------------------------------------------------------------


@dataclass
class CompareOptions:
    """How compare_model runs the model (python -m rcnn.compare's flags)."""

    image: Path | None = None
    inputs: list[Path] = field(default_factory=list)
    preprocess: str | None = None
    execution: int = 0
    reference: bool = False
    partition: bool = True  # False: no EP, both runs on ORT's CPU EP
    device: str = "auto"  # where -x 1/2 arithmetic runs (rcnn.runtime.runner.resolve_device)
    adds: str = "accelerator"  # where residual adds run (the EP's adds option)
    tolerance: float = 0.0
    threads: int = 1
    timeout: float = 1800.0
    build: bool = True


def _silent(text: str) -> None:
    pass


def _run_target(model: Path, inputs: list[Path], work: Path, native: bool, opts: CompareOptions,
                progress: Callable[[str], None]) -> RunResult:
    """One run, with the Systolic EP unless opts.partition is off."""
    label = "native" if native else "qemu"
    out = work / label
    out.mkdir()
    how = "auto" if opts.partition else "off"
    config = RunConfig(native=native, execution=opts.execution, threads=opts.threads, timeout=opts.timeout,
                       build=opts.build, echo=False, session_config=default_session_config(how),
                       device=resolve_device(opts.device, native), adds=opts.adds)
    if opts.partition:
        config.ep_lib = systolic_ep_library(native, build_it=opts.build)
    progress(f"-- running {label} ({'host ort_test' if native else 'riscv64 ort_test under qemu-riscv64'})")
    result = run(model.resolve(), [f.resolve() for f in inputs], out.resolve(), config)
    progress(f"   {len(result.outputs)} tensor(s) in {result.wall_s:.1f} s")
    return result


def compare_model(model: Path, opts: CompareOptions, work: Path,
                  progress: Callable[[str], None] = _silent) -> list[Comparison]:
    """The pipeline: ask the EP's placement, expose intermediates, run each target, compare. `progress` hears each
    step."""
    info = read_model_info(model)
    inputs, _ = prepare_inputs(info, opts.image, opts.inputs, opts.preprocess, work)
    graph = gate.load_model(info.path)
    placement = ep_placement(graph, info.path, opts.execution, opts.adds) if opts.partition else None
    exposed_model, order, skipped = expose_intermediates(graph, placement.internal if placement else frozenset())
    exposed_path = work / "exposed.onnx"
    onnx.save(exposed_model, str(exposed_path))
    progress(f"-- {len(order)} tensor(s) exposed ("
             + (f"{len(placement.internal)} inside accelerator units kept internal" if placement else "no EP")
             + (f"; {len(skipped)} skipped, type unknown or not a tensor" if skipped else "") + ")")
    native_run = _run_target(exposed_path, inputs, work, True, opts, progress)
    qemu_run = _run_target(exposed_path, inputs, work, False, opts, progress)
    native, qemu = native_run.outputs, qemu_run.outputs
    comparisons = [Comparison("native", "qemu", compare_runs(order, native, qemu, opts.tolerance))]
    if placement is not None:
        exposed_ep = qemu_run.report.get("systolic_ep", {})
        on = {n["name"]: n["placement"] for n in exposed_ep.get("nodes", [])} or placement.on
        layer_on = {item.layer: on.get(item.layer, "") for item in order}
        for row in comparisons[0].rows:
            row.on, row.unit = layer_on.get(row.layer, ""), placement.unit.get(row.layer, "")
        share = exposed_ep.get("summary", {}).get("accelerator_mac_fraction")
        if share is not None and share < placement.mac_fraction - 1e-6:
            comparisons[0].notes.append(
                f"with the intermediates exposed the EP placed {100 * share:.1f} % of MACs on the accelerator, "
                f"{100 * placement.mac_fraction:.1f} % without: an exposed tensor split a unit")
    if skipped:
        comparisons[0].notes.append(f"not exposed (type unknown or not a tensor): {', '.join(skipped)}")
    if opts.reference:
        progress("-- running the original model on ONNX Runtime's CPU EP (Python)")
        internal = placement.internal if placement else frozenset()
        reference = run_reference(graph, inputs, work, opts.threads, internal)
        ref = Comparison("reference", "qemu", compare_runs(order, reference, qemu, opts.tolerance))
        where = {r.tensor: (r.on, r.unit) for r in comparisons[0].rows}
        for row in ref.rows:
            row.on, row.unit = where.get(row.tensor, ("", ""))
        comparisons.append(ref)
    return comparisons


def write_json(path: Path, model: Path, work: Path, comparisons: list[Comparison]) -> None:
    report = {"model": str(model.resolve()), "run_dir": str(work.resolve()),
              "diverged": any(c.first is not None for c in comparisons),
              "comparisons": [c.to_dict() for c in comparisons]}
    try:
        atomic_write(path, (json.dumps(report, indent=2) + "\n").encode())
    except OSError as e:
        raise RcnnError(f"cannot write {path}: {e.strerror or e}") from None
