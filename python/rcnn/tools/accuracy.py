"""The library of python -m rcnn.accuracy: float vs int8 accuracy of the mobile test networks, on ONNX Runtime's CPU
EP and on the accelerator (the Systolic plugin EP, native), per quantization scheme.

Per model (rcnn.models.mobile): the float ONNX model goes through rcnn.optimize's library (Gemm -> MatMul, as the
demo Mask R-CNN's packaging does, so the classifier's linear layers can reach the accelerator), a calibration set
is written with rcnn.quant.dataset.write_dataset (raw 0..255 RGB, normalised by the calibration reader with the
model's rcnn.preprocess spec), and each scheme of SCHEMES quantizes it with rcnn.quant.quantize.quantize_model.
Then every held-out image runs through the float model (CPU EP), each int8 model on the CPU EP, and each int8 model
in a Systolic EP session in mode "ws" (rcnn.accelerator.ep.session, which rcnn.systolic.session is). Metrics: top-1
(classifier) or mIoU over the classes, background included (segmenter, from one confusion matrix over all images),
and the mean per-image cosine similarity of the output (logits) to the float model's. A scheme that fails
(quantization, session, run) is a row with its error, not an abort: a broken scheme is one of the things this table
is for.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcnn.errors import RcnnError
from rcnn.files import atomic_write

DEFAULT_IMAGES = 200
DEFAULT_CALIB = 32
TABLE_JSON, TABLE_PNG, TABLE_MD = "accuracy.json", "accuracy.png", "accuracy.md"


def _options(**kwargs: Any) -> Callable[[], Any]:
    def make() -> Any:
        from rcnn.quant.quantize import QuantizeOptions

        return QuantizeOptions(**kwargs)

    return make


# Scheme name -> its QuantizeOptions. The project default resolves per-channel scales by itself (on for a model
# with depthwise convs, so for both of these); the explicit per-tensor row is the symmetric int8 form that breaks
# MobileNets elsewhere. Modes: int8 = symmetric int8 activations and weights; u8s8 = asymmetric uint8 activations,
# symmetric int8 weights; uint8 = asymmetric uint8 activations and weights.
SCHEMES: dict[str, Callable[[], Any]] = {
    "default QuantizeOptions()": _options(),
    "int8 per-tensor": _options(per_channel=False),
    "int8 per-channel": _options(per_channel=True),
    "u8s8 per-channel": _options(mode="u8s8", per_channel=True),
    "uint8 per-channel": _options(mode="uint8", per_channel=True),
}
FLOAT = "float"


@dataclass
class Row:
    model: str
    kind: str
    scheme: str
    metric: str  # "top-1" or "mIoU"
    cpu: float | None = None  # the metric on ORT's CPU EP
    accelerator: float | None = None  # the metric with the Systolic EP (None: float model, or failed)
    mac_fraction: float | None = None  # share of the MACs the EP placed on the accelerator
    nodes_on_accelerator: int | None = None
    nodes: int | None = None
    cosine_cpu: float | None = None  # mean per-image cosine of the output to the float model's
    cosine_accelerator: float | None = None
    seconds_cpu: float | None = None
    seconds_accelerator: float | None = None
    quantized_ops: dict[str, int] = field(default_factory=dict)  # op histogram of the quantized model
    op_types: list[str] = field(default_factory=list)  # what quantize_model was told to quantize
    notes: list[str] = field(default_factory=list)
    error: str | None = None


# ---------------------------------------------------------------------------------------------------- metrics


def top1(outputs: Sequence[np.ndarray], labels: Sequence[int]) -> float:
    if not outputs:
        raise RcnnError("no images to evaluate")
    return float(np.mean([int(np.argmax(o.reshape(-1))) == int(g) for o, g in zip(outputs, labels, strict=True)]))


def confusion(outputs: Sequence[np.ndarray], masks: Sequence[np.ndarray], classes: int) -> np.ndarray:
    """Confusion matrix [truth, prediction] over every pixel of every image (outputs [1,K,H,W] or [K,H,W])."""
    cm = np.zeros((classes, classes), np.int64)
    for out, truth in zip(outputs, masks, strict=True):
        pred = out.reshape(classes, *truth.shape).argmax(0)
        cm += np.bincount(truth.astype(np.int64).ravel() * classes + pred.ravel(),
                          minlength=classes * classes).reshape(classes, classes)
    return cm


def mean_iou(outputs: Sequence[np.ndarray], masks: Sequence[np.ndarray], classes: int) -> float:
    """Mean over the classes that occur (in truth or prediction) of intersection / union."""
    cm = confusion(outputs, masks, classes)
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    seen = union > 0
    if not seen.any():
        raise RcnnError("no pixels to evaluate")
    return float(np.mean(inter[seen] / union[seen]))


def mean_cosine(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    values = []
    for a, b in zip(outputs, reference, strict=True):
        a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        denom = float(np.linalg.norm(a64) * np.linalg.norm(b64))
        values.append(float(a64 @ b64) / denom if denom > 0 else float(np.array_equal(a64, b64)))
    return float(np.mean(values))


def score(kind: str, outputs: Sequence[np.ndarray], truth: Sequence[Any], classes: int) -> float:
    return top1(outputs, truth) if kind == "classifier" else mean_iou(outputs, truth, classes)


# ---------------------------------------------------------------------------------------------------- running


def cpu_session(model: bytes | str | Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the cores are shared
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


def run_all(session: Any, inputs: Sequence[np.ndarray], desc: str, progress: bool) -> tuple[list[np.ndarray],
                                                                                              float]:
    """The first output for every input (fed as "x"); and the seconds per image."""
    from tqdm import tqdm

    name = session.get_inputs()[0].name
    start = time.monotonic()
    outputs = [session.run(None, {name: x})[0] for x in tqdm(inputs, desc=desc, unit="img", disable=not progress,
                                                              leave=False)]
    return outputs, (time.monotonic() - start) / max(1, len(inputs))


def load_inputs(paths: Sequence[Path]) -> list[np.ndarray]:
    from rcnn.models.mobile import to_input
    from rcnn.runtime.preprocess import load_rgb

    return [to_input(load_rgb(p)) for p in paths]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()


def quantize_scheme(opt_model: Any, calib_data: Path, preprocess: str, scheme: str,
                    progress: bool) -> tuple[Any, Any]:
    """(quantized model, QuantizeReport) of the optimized float model under `scheme`."""
    import onnx

    from rcnn.quant.data import ZooDataReader
    from rcnn.quant.quantize import quantize_model

    model = onnx.ModelProto()
    model.CopyFrom(opt_model)  # quantize_model names nodes and moves constants in place
    reader = ZooDataReader(model, calib_data, preprocess, 0, progress=progress)
    return quantize_model(model, reader, SCHEMES[scheme]())


def evaluate_model(mobile: Any, out: Path, images: int, calib: int, schemes: Sequence[str] = tuple(SCHEMES),
                   progress: bool = True, log: Callable[[str], None] | None = None) -> tuple[list[Row],
                                                                                             list[np.ndarray]]:
    """Rows (float first, then one per scheme) for a rcnn.models.mobile.MobileModel, and the float outputs."""
    from collections import Counter

    from rcnn.accelerator import ep
    from rcnn.models.mobile import PREPROCESS, ensure_data, load_eval_set
    from rcnn.onnxgraph import gate
    from rcnn.quant.dataset import list_images, write_dataset
    from rcnn.quant.prepare import optimize

    say = log or (lambda text: None)
    eval_dir, calib_images = ensure_data(out, mobile.kind, mobile.size, images, calib, progress)
    paths, truth = load_eval_set(eval_dir, mobile.kind, images)
    inputs = load_inputs(paths)
    classes = len(mobile.classes)
    metric = "top-1" if mobile.kind == "classifier" else "mIoU"
    label = f"{mobile.arch} ({mobile.kind}, {mobile.size} px)"
    work = out / "work" / mobile.path.stem

    float_out, float_seconds = run_all(cpu_session(mobile.path), inputs, "float, CPU EP", progress)
    rows = [Row(label, mobile.kind, FLOAT, metric, cpu=score(mobile.kind, float_out, truth, classes),
                cosine_cpu=1.0, seconds_cpu=float_seconds)]
    say(f"{label}: float {metric} {rows[0].cpu:.4f}")

    opt_model, opt_report = optimize(gate.load_model(mobile.path), gemm=True)
    atomic_write(work / "float_optimized.onnx", opt_model.SerializeToString())
    say(f"  optimized: {'; '.join(opt_report.changes) or 'nothing to change'}")
    calib_data = work / f"calib_data_{calib}"
    write_dataset(list_images(calib_images), calib_data, "none", [1, 3, mobile.size, mobile.size], "x",
                  progress=False)
    for scheme in schemes:
        row = Row(label, mobile.kind, scheme, metric)
        rows.append(row)
        try:
            quant, report = quantize_scheme(opt_model, calib_data, PREPROCESS, scheme, progress)
        except Exception as e:  # a scheme that does not quantize is a result, not a crash of the table
            row.error = f"quantization failed: {_one_line(e)}"
            say(f"  {scheme}: {row.error}")
            continue
        row.op_types = list(report.op_types)
        row.notes = list(report.notes or [])
        row.quantized_ops = dict(sorted(Counter(n.op_type for n in quant.graph.node).items()))
        data = quant.SerializeToString()
        atomic_write(work / f"{_file_name(scheme)}.onnx", data)
        try:
            got, row.seconds_cpu = run_all(cpu_session(data), inputs, f"{scheme}, CPU EP", progress)
            row.cpu = score(mobile.kind, got, truth, classes)
            row.cosine_cpu = mean_cosine(got, float_out)
        except Exception as e:
            row.error = f"CPU EP: {_one_line(e)}"
        try:
            session = ep.session(data, mode="ws")
            summary = ep.report(session)["summary"]
            row.mac_fraction = summary.get("accelerator_mac_fraction")
            row.nodes_on_accelerator, row.nodes = summary.get("nodes_on_accelerator"), summary.get("nodes")
            got, row.seconds_accelerator = run_all(session, inputs, f"{scheme}, accelerator", progress)
            row.accelerator = score(mobile.kind, got, truth, classes)
            row.cosine_accelerator = mean_cosine(got, float_out)
        except Exception as e:
            row.error = ((row.error + "; ") if row.error else "") + f"accelerator: {_one_line(e)}"
        say(f"  {scheme}: CPU {_fmt(row.cpu)}, accelerator {_fmt(row.accelerator)}, "
            f"{_pct(row.mac_fraction)} of MACs placed" + (f" ({row.error})" if row.error else ""))
    return rows, float_out


def _file_name(scheme: str) -> str:
    from rcnn.files import file_label

    return file_label(scheme.replace(" ", "_").replace("(", "").replace(")", ""))


# ---------------------------------------------------------------------------------------------------- output


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| model | scheme | metric | ORT CPU | accelerator | MACs on accelerator | cosine vs float (CPU / acc.) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cos = "1 (reference)" if r.scheme == FLOAT else f"{_fmt(r.cosine_cpu, 4)} / {_fmt(r.cosine_accelerator, 4)}"
        acc = _fmt(r.accelerator) + (" (failed)" if r.error and r.accelerator is None and r.scheme != FLOAT else "")
        lines.append(f"| {r.model} | {r.scheme} | {r.metric} | {_fmt(r.cpu)} | {acc} | {_pct(r.mac_fraction)} "
                     f"| {cos} |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Row], path: Path) -> None:
    """One panel per model: the metric per scheme on the CPU EP and on the accelerator, as bars."""
    from rcnn.tools.plots import pyplot, save_png

    plt = pyplot()
    models = list(dict.fromkeys(r.model for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 5), squeeze=False)
    for ax, name in zip(axes[0], models, strict=True):
        mine = [r for r in rows if r.model == name]
        xs = np.arange(len(mine))
        cpu = [r.cpu if r.cpu is not None else 0.0 for r in mine]
        accel = [r.accelerator if r.accelerator is not None else 0.0 for r in mine]
        ax.bar(xs - 0.2, cpu, 0.4, label="ORT CPU EP")
        ax.bar(xs + 0.2, accel, 0.4, label="accelerator (Systolic EP)")
        for x, r in zip(xs, mine, strict=True):
            if r.mac_fraction is not None:
                ax.text(x + 0.2, (r.accelerator or 0.0) + 0.02, f"{100 * r.mac_fraction:.0f}%", ha="center",
                        fontsize=8)
        ax.set_xticks(xs, [r.scheme.replace(" ", "\n", 1) for r in mine], fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel(mine[0].metric)
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.suptitle("float vs int8 (% = MACs placed on the accelerator)")
    fig.tight_layout()
    save_png(fig, path)


def write_outputs(rows: Sequence[Row], out: Path, settings: dict[str, Any]) -> dict[str, Path]:
    """accuracy.json (rows + settings + machine), accuracy.md (the table) and accuracy.png, atomically."""
    import os

    files = {"json": out / TABLE_JSON, "markdown": out / TABLE_MD, "png": out / TABLE_PNG}
    doc = {"settings": settings,
           "machine": {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count()},
           "rows": [asdict(r) for r in rows]}
    atomic_write(files["json"], (json.dumps(doc, indent=1) + "\n").encode())
    atomic_write(files["markdown"], markdown(rows).encode())
    plot(rows, files["png"])
    return files
