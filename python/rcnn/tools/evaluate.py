"""python -m rcnn.eval: COCO box and mask mAP (pycocotools) of detection models on a dataset, per runner.

Runners: ort = the model as it is on ONNX Runtime's CPU EP in Python (FP32 or int8); systolic-native = the quantized
model on the host build of ort_test with the accelerator's plugin EP (which places what it can run, as rcnn.run);
systolic-qemu = the same under qemu-riscv64 (one qemu run per image: slow, so --limit evaluates the first N images
and the table says so).

Each image is a Ray task (rcnn.cluster): a local Ray instance of -j CPUs, or the cluster at --ray-address. The model
and the runner's programs travel to the workers by value; each result is journalled as it arrives (DIR/LABEL.jsonl
in the evaluation directory), so --resume DIR continues an interrupted evaluation. A worker that dies is replaced
and its image run again (--retries); an image that fails on its own (a corrupt file) is reported, not scored.

Data: --data DIR (a COCO folder: DIR/annotations.json, images by their file_name relative to DIR), or --annotations
FILE with --images DIR; default the synthetic validation split (rcnn.shapes, VAL_SEED), generated once into
build/shapes/val_N. Each image is preprocessed as the model's rcnn.preprocess metadata says, run, mapped back to the
image (python -m rcnn.postprocess) and scored by COCOeval for bbox and segm. Model labels are COCO category ids
(the shapes model's CLASSES index; torchvision's 91-index COCO labels).

One run: --model M --runner R. Several in one table: --run [LABEL=]MODEL[:RUNNER] repeated, e.g.
  --run fp32=models/shapes/shapes_fp32.onnx:ort --run int8=models/shapes/shapes_int8.onnx:systolic-native
Runs of the same model are checked for bit-identical raw outputs on the images they share (systolic-native against
systolic-qemu); --detections writes per-image detections and output hashes, --compare-to checks against such a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcnn import paths
from rcnn.cluster.journal import Journal
from rcnn.cluster.ray_tasks import Failure, FanOutOptions, FanOutStats, fan_out
from rcnn.cluster.shipment import Shipment, land, ship, ship_model
from rcnn.detection.coco_eval import STATS, Dataset, coco_eval, compare, load_dataset
from rcnn.errors import RcnnError
from rcnn.runtime.bundle import Bundle

RUNNERS = ("ort", "systolic-native", "systolic-qemu")
DEFAULT_SHAPES_VAL = 100


# ---------------------------------------------------------------------------------------------------------- data


def _silent(text: str) -> None:
    pass


def shapes_val_folder(count: int, progress: Callable[[str], None] = _silent) -> Path:
    """build/shapes/val_N with the first `count` validation samples, generated when absent (annotations.json is
    written last and atomically, so its presence means the folder is complete)."""
    from rcnn.models.synthetic import VAL_SEED, write_coco_folder

    folder = paths.build_dir() / "shapes" / f"val_{count}"
    if not (folder / "annotations.json").is_file():
        progress(f"== generating {count} synthetic validation images into {folder}")
        write_coco_folder(folder, count, VAL_SEED)
    return folder


def resolve_dataset(data: Path | None, annotations: Path | None, images: Path | None, shapes_val: int,
                    progress: Callable[[str], None] = _silent) -> Dataset:
    """--data DIR, or --annotations FILE (images relative to `images`, default its folder), else the first
    `shapes_val` synthetic validation images."""
    if data is not None:
        return load_dataset(data / "annotations.json", images or data)
    if annotations is not None:
        return load_dataset(annotations, images or annotations.parent)
    folder = shapes_val_folder(shapes_val, progress)
    return load_dataset(folder / "annotations.json", folder)


# ---------------------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunSpec:
    label: str
    model: Path
    runner: str


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to run images, by value (it may be on another machine): picklable, programs built."""

    runner: str
    model: Path  # the model on the driver (named in the summary)
    model_files: Shipment  # its bytes (and external data): landed in the worker's cache
    score_threshold: float
    classes: str | None
    execution: int = 0
    threads: int = 1
    timeout: float = 1800.0
    bundle: Bundle | None = None  # the target's programs (systolic-* runners)
    systolic_config: Shipment | None = None  # the accelerator config file, when not the built-in one
    device: str = "guest"  # systolic-qemu: "host" = -x 1/2 arithmetic in the native device process (RunConfig.device)

    def key(self) -> dict[str, object]:
        """What the results depend on: a --resume journal must have been written with the same."""
        return {"runner": self.runner, "model": self.model_files.digest, "execution": self.execution,
                "device": self.device, "score_threshold": self.score_threshold, "classes": self.classes,
                "programs": self.bundle.digest if self.bundle else None,
                "systolic_config": self.systolic_config.digest if self.systolic_config else None}


@dataclass
class ImageResult:
    index: int
    image_id: int
    file_name: str
    seconds: float
    outputs_sha256: str
    detections: list[dict] = field(default_factory=list)


def parse_run(text: str, default_runner: str | None) -> RunSpec:
    """[LABEL=]MODEL[:RUNNER]; the runner suffix is recognised only when it names a runner."""
    label, _, rest = text.rpartition("=") if "=" in text else ("", "", text)
    model, runner = rest, default_runner
    head, sep, tail = rest.rpartition(":")
    if sep and tail in RUNNERS:
        model, runner = head, tail
    if not model:
        raise RcnnError(f"--run {text!r}: no model path")
    if runner is None:
        raise RcnnError(f"--run {text!r}: no runner (append :{'|'.join(RUNNERS)} or give --runner)")
    return RunSpec(label or f"{Path(model).stem}:{runner}", Path(model), runner)


def resolve_runs(run: Sequence[str], model: Path | None, runner: str | None) -> list[RunSpec]:
    """--run entries and --model with --runner as RunSpecs, the --model one first."""
    runs = [parse_run(r, runner) for r in run]
    if model is not None:
        runs.insert(0, RunSpec(f"{model.stem}:{runner or 'ort'}", model, runner or "ort"))
    if not runs:
        raise RcnnError("nothing to evaluate: give --model (with --runner) or --run")
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise RcnnError(f"run labels must differ: {', '.join(labels)}")
    return runs


@dataclass(frozen=True)
class EvalOptions:
    """How every run is made (python -m rcnn.eval's flags)."""

    score_threshold: float = 0.0
    classes: str | None = None
    execution: int = 0
    threads: int = 1
    timeout: float = 1800.0
    systolic_config: Path | None = None
    build: bool = True
    device: str = "auto"  # auto (host under qemu), guest or host: rcnn.runtime.runner.resolve_device


def prepare_setup(spec: RunSpec, a: EvalOptions) -> WorkerSetup:
    """Build (or find) and pack what the runner needs, once, in the driver."""
    from rcnn.onnxgraph.model_info import read_model_info

    info = read_model_info(spec.model)
    config = ship({a.systolic_config.name: a.systolic_config}) if a.systolic_config else None
    common = dict(runner=spec.runner, model=info.path.resolve(), model_files=ship_model(info.path),
                  score_threshold=a.score_threshold, classes=a.classes, execution=a.execution, threads=a.threads,
                  timeout=a.timeout, systolic_config=config)
    if spec.runner == "ort":
        return WorkerSetup(**common)
    from rcnn.runtime.bundle import local_runner_files, pack
    from rcnn.runtime.runner import RunConfig, resolve_device, uses_device

    native = spec.runner == "systolic-native"
    device = resolve_device(a.device, native)
    files = local_runner_files(native, False, a.build)
    needs_device = uses_device(RunConfig(native=native, ep_lib=files.ep_lib, execution=a.execution, device=device))
    if needs_device:
        files = local_runner_files(native, True, build_it=False)
    return WorkerSetup(bundle=pack(files), device=device, **common)


# ------------------------------------------------------------------------------------------------------- workers


class Worker:
    """Runs images for one setup; made once per worker process (the ORT session is created once)."""

    def __init__(self, setup: WorkerSetup) -> None:
        from rcnn.detection.postprocess import resolve_classes
        from rcnn.onnxgraph.model_info import read_model_info
        from rcnn.runtime.bundle import unpack

        self.setup = setup
        self.model = land(setup.model_files) / setup.model.name
        self.info = read_model_info(self.model)
        self.classes = resolve_classes(setup.classes, self.info.metadata)
        self.files = unpack(setup.bundle) if setup.bundle else None
        config = setup.systolic_config
        self.systolic_config = land(config) / next(iter(config.files)) if config else None
        self.session: Any = None
        if setup.runner == "ort":
            from rcnn.runtime.native import make_session

            self.session = make_session(self.model, 99, setup.threads)

    def outputs(self, image: Path) -> dict[str, np.ndarray]:
        if self.session is not None:
            from rcnn.runtime.inputs import preprocess_mode
            from rcnn.runtime.preprocess import image_to_tensor

            first = self.info.inputs[0]
            feeds = {first.name: image_to_tensor(image, preprocess_mode(self.info, None), first.dims)}
            names = [o.name for o in self.session.get_outputs()]
            try:
                return dict(zip(names, self.session.run(names, feeds), strict=True))
            except Exception as e:  # ORT raises its own types
                raise RcnnError(f"inference failed on {image.name}: {str(e).strip().splitlines()[0]}") from None
        return self._ort_test(image)

    def _ort_test(self, image: Path) -> dict[str, np.ndarray]:
        from rcnn.runtime.inputs import prepare_inputs
        from rcnn.runtime.runner import RunConfig, run
        from rcnn.tools.runmodel import default_session_config

        s, files = self.setup, self.files
        assert files is not None
        config = RunConfig(native=s.runner == "systolic-native", execution=s.execution, threads=s.threads,
                           ep_lib=files.ep_lib, systolic_config=self.systolic_config, timeout=s.timeout, build=False,
                           echo=False, session_config=default_session_config("auto"), device=s.device, files=files)
        with tempfile.TemporaryDirectory(prefix="rcnn-eval-") as tmp:
            work = Path(tmp)
            inputs, _ = prepare_inputs(self.info, image, [], None, work)
            try:  # the runner passes ort_test's stderr on (the accelerator's PROF lines): keep it off the bar
                with contextlib.redirect_stderr(io.StringIO()):
                    return run(self.model, inputs, work, config).outputs
            except RcnnError as e:
                raise RcnnError(f"{image.name}: {e}") from None

    def evaluate(self, index: int, entry: dict, image: Path) -> ImageResult:
        from rcnn.detection.detections import find_detection_outputs, to_image_space
        from rcnn.detection.postprocess import to_coco
        from rcnn.runtime.preprocess import load_rgb, target_hw

        start = time.perf_counter()
        outputs = self.outputs(image)
        seconds = time.perf_counter() - start
        image_hw = load_rgb(image).shape[:2]
        input_hw = target_hw(self.info.inputs[0].dims, image_hw)
        dets = to_image_space(find_detection_outputs(outputs), input_hw, image_hw, self.setup.score_threshold)
        return ImageResult(index, int(entry["id"]), entry["file_name"], seconds, outputs_digest(outputs),
                           to_coco(dets, self.classes, int(entry["id"])))


def outputs_digest(outputs: dict[str, np.ndarray]) -> str:
    """sha256 over every output's name, dtype, shape and bytes, in order: equal digests = bit-identical outputs."""
    h = hashlib.sha256()
    for name, arr in outputs.items():
        a = np.ascontiguousarray(arr)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def evaluate_image(worker: Worker, payload: tuple[int, dict, bytes | None]) -> ImageResult:
    """One image, sent by value, through the worker (the body of a Ray task)."""
    index, entry, data = payload
    name = Path(entry["file_name"]).name
    if data is None:
        raise RcnnError(f"image not found: {entry['file_name']}")
    with tempfile.TemporaryDirectory(prefix="rcnn-image-") as tmp:
        image = Path(tmp) / name
        image.write_bytes(data)
        return worker.evaluate(index, entry, image)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass
class RunOutcome:
    """A run's images: the ones done (in dataset order, resumed ones included) and the failed ones with reasons."""

    results: list[ImageResult]
    failed: list[dict[str, str]]
    resumed: int
    stats: FanOutStats


def run_images(setup: WorkerSetup, data: Dataset, entries: Sequence[dict], options: FanOutOptions,
               journal: Journal) -> RunOutcome:
    """Every image not finished in `journal` as a Ray task; each result is written to the journal as it arrives."""
    todo = [(i, e) for i, e in enumerate(entries) if not journal.finished(str(e["id"]))]
    items = ((str(e["id"]), (i, e, _read(data.images_dir / e["file_name"]))) for i, e in todo)

    def record(item: str, result: ImageResult | Failure) -> None:
        if isinstance(result, Failure):
            journal.add(item, "failed", {"file_name": by_id[item]["file_name"], "reason": result.reason})
        else:
            journal.add(item, "ok", _record(result))

    by_id = {str(e["id"]): e for e in entries}
    stats = fan_out(Worker, setup, evaluate_image, items, len(todo), record, options,
                    already_done=len(entries) - len(todo))
    results, failed = [], []
    for i, e in enumerate(entries):
        r = journal.done.get(str(e["id"]))
        if r is None:
            continue
        if r["status"] == "ok":
            results.append(ImageResult(i, int(e["id"]), e["file_name"], r["seconds"], r["outputs_sha256"],
                                       r["detections"]))
        else:
            failed.append({"file_name": e["file_name"], "reason": r["reason"]})
    resumed = len(entries) - len(todo)
    return RunOutcome(results, failed, resumed, stats)


# ------------------------------------------------------------------------------------------------------- metrics


@dataclass
class RunSummary:
    label: str
    runner: str
    model: str
    images: int
    of_images: int
    seconds_per_image: float
    wall_s: float
    detections: int
    box: dict[str, float] | None = None
    mask: dict[str, float] | None = None
    identical_to: dict[str, str] = field(default_factory=dict)
    failed: int = 0  # images that could not be run (not scored; reasons in the summary's "failed")
    resumed: int = 0  # images whose results came from an earlier, interrupted evaluation's journal


def summarize(spec: RunSpec, setup: WorkerSetup, data: Dataset, gt: Any, results: list[ImageResult],
              wall: float) -> RunSummary:
    dets = [d for r in results for d in r.detections]
    ids = [r.image_id for r in results]
    s = RunSummary(spec.label, spec.runner, str(setup.model), len(results), len(data.images),
                   sum(r.seconds for r in results) / max(len(results), 1), round(wall, 3), len(dets))
    if not results:
        return s
    s.box = dict(zip(STATS, coco_eval(gt, dets, ids, "bbox")[0], strict=True))
    if any("segmentation" in d for d in dets):
        s.mask = dict(zip(STATS, coco_eval(gt, dets, ids, "segm")[0], strict=True))
    return s


# ---------------------------------------------------------------------------------------------------- identity


def _record(r: ImageResult) -> dict:
    return {"image_id": r.image_id, "file_name": r.file_name, "outputs_sha256": r.outputs_sha256,
            "seconds": round(r.seconds, 4), "detections": r.detections}


def records(results: list[ImageResult]) -> list[dict]:
    return [_record(r) for r in results]


# ------------------------------------------------------------------------------------------------------- output


def _pts(v: float | None) -> str:
    return "-" if v is None or v < 0 else f"{100 * v:.1f}"


def format_table(summaries: Sequence[RunSummary]) -> str:
    rows = [("run", "runner", "model", "images", "box AP", "AP50", "AP75", "mask AP", "AP50", "AP75", "s/img")]
    for s in summaries:
        box, mask = s.box or {}, s.mask or {}
        images = f"{s.images}" if s.images == s.of_images else f"{s.images}/{s.of_images}"
        images += f" ({s.failed} failed)" if s.failed else ""
        rows.append((s.label, s.runner, Path(s.model).name, images, _pts(box.get("AP")), _pts(box.get("AP50")),
                     _pts(box.get("AP75")), _pts(mask.get("AP")), _pts(mask.get("AP50")), _pts(mask.get("AP75")),
                     f"{s.seconds_per_image:.3f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def format_stats(s: RunSummary) -> list[str]:
    out = []
    for kind, stats in (("box", s.box), ("mask", s.mask)):
        if stats:
            out.append(f"  {s.label} {kind:<4} " + " ".join(f"{k} {_pts(stats[k])}" for k in STATS))
    return out


def identity_checks(runs: Sequence[RunSpec], recs: dict[str, list[dict]], summaries: Sequence[RunSummary],
                    earlier: dict[str, dict] | None) -> list[str]:
    """Pairs of runs of the same model here, and each run against its namesake in --compare-to."""
    lines = []
    for i, r in enumerate(runs):
        for j in range(i + 1, len(runs)):
            if runs[j].model.resolve() == r.model.resolve():
                verdict = compare(recs[r.label], recs[runs[j].label])
                summaries[i].identical_to[runs[j].label] = verdict
                lines.append(f"  {r.label} vs {runs[j].label}: {verdict}")
        if earlier is not None:
            other = earlier.get(r.label) or (next(iter(earlier.values())) if len(earlier) == 1 else None)
            verdict = compare(recs[r.label], other["images"]) if other else "no run of that label in the file"
            summaries[i].identical_to[f"compare-to:{r.label}"] = verdict
            lines.append(f"  {r.label} vs {r.label} in --compare-to: {verdict}")
    return lines


