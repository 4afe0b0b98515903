"""python -m rcnn.eval: COCO box and mask mAP (pycocotools) of detection models on a dataset, per runner.

Runners: ort = the model as it is on ONNX Runtime's CPU EP in Python (FP32 or int8); systolic-native = the int8 model
partitioned for the accelerator (python -m rcnn.partition, cached) on the host build of ort_test with the
accelerator's custom-op library; systolic-qemu = the same under qemu-riscv64 (one qemu run per image: slow, so
--limit evaluates the first N images and the table says so).

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

import argparse
import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcnn import paths
from rcnn.cli import ArgumentParser, HelpFormatter, positive_seconds, run_cli
from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.plots import pyplot, save_png

RUNNERS = ("ort", "systolic-native", "systolic-qemu")
DEFAULT_SHAPES_VAL = 100
STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
IOU_TYPES = {"box": "bbox", "mask": "segm"}


# ---------------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    annotations: Path
    images_dir: Path
    images: tuple[dict, ...]  # COCO image entries (id, file_name, ...), in the file's order

    @property
    def name(self) -> str:
        return str(self.annotations.parent if self.annotations.name == "annotations.json" else self.annotations)


def shapes_val_folder(count: int) -> Path:
    """build/shapes/val_N with the first `count` validation samples, generated when absent (annotations.json is
    written last and atomically, so its presence means the folder is complete)."""
    from rcnn.shapes import VAL_SEED, write_coco_folder

    folder = paths.build_dir() / "shapes" / f"val_{count}"
    if not (folder / "annotations.json").is_file():
        print(f"== generating {count} synthetic validation images into {folder}", file=sys.stderr)
        write_coco_folder(folder, count, VAL_SEED)
    return folder


def load_dataset(annotations: Path, images_dir: Path) -> Dataset:
    try:
        doc = json.loads(annotations.read_text())
    except OSError as e:
        raise RcnnError(f"cannot read annotations {annotations}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise RcnnError(f"annotations {annotations} are not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or "annotations" not in doc:
        raise RcnnError(f"{annotations} is not a COCO instances file (no images/annotations lists)")
    if not doc["images"]:
        raise RcnnError(f"{annotations} lists no images")
    return Dataset(annotations, images_dir, tuple(doc["images"]))


def resolve_dataset(a: argparse.Namespace) -> Dataset:
    if a.data is not None:
        return load_dataset(a.data / "annotations.json", a.images or a.data)
    if a.annotations is not None:
        return load_dataset(a.annotations, a.images or a.annotations.parent)
    folder = shapes_val_folder(a.shapes_val)
    return load_dataset(folder / "annotations.json", folder)


# ---------------------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunSpec:
    label: str
    model: Path
    runner: str


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs to run images: picklable, the model already partitioned, libraries built."""

    runner: str
    model: Path  # the original model (preprocess metadata, classes)
    ran: Path  # what is run: the model, or its partitioned form
    score_threshold: float
    classes: str | None
    execution: int = 0
    threads: int = 1
    timeout: float = 1800.0
    custom_op_libs: tuple[Path, ...] = ()


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


def resolve_runs(a: argparse.Namespace) -> list[RunSpec]:
    runs = [parse_run(r, a.runner) for r in a.run]
    if a.model is not None:
        runs.insert(0, RunSpec(f"{a.model.stem}:{a.runner or 'ort'}", a.model, a.runner or "ort"))
    if not runs:
        raise RcnnError("nothing to evaluate: give --model (with --runner) or --run")
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise RcnnError(f"run labels must differ: {', '.join(labels)}")
    return runs


def prepare_setup(spec: RunSpec, a: argparse.Namespace) -> WorkerSetup:
    """Partition (cached) and build what the runner needs, once, in the main process."""
    from rcnn.onnx_model import read_model_info

    info = read_model_info(spec.model)
    common = dict(runner=spec.runner, model=info.path.resolve(), score_threshold=a.score_threshold,
                  classes=a.classes, execution=a.execution, threads=a.threads, timeout=a.timeout)
    if spec.runner == "ort":
        return WorkerSetup(ran=info.path.resolve(), **common)
    from rcnn.run import place_on_accelerator
    from rcnn.runner import RunConfig, runner_command, systolic_library
    from rcnn.systolic import read_config

    with contextlib.redirect_stdout(io.StringIO()):  # place_on_accelerator reports on stdout
        ran, _ = place_on_accelerator(info.path, "on", read_config(a.systolic_config)["elem"])
    native = spec.runner == "systolic-native"
    lib = systolic_library(native, build_it=not a.no_build)
    runner_command(RunConfig(native=native, build=not a.no_build))  # build/find ort_test before the workers start
    return WorkerSetup(ran=Path(ran).resolve(), custom_op_libs=(lib.resolve(),), **common)


# ------------------------------------------------------------------------------------------------------- workers


class Worker:
    """Runs images for one setup; made once per worker process (the ORT session is created once)."""

    def __init__(self, setup: WorkerSetup, systolic_config: Path | None = None) -> None:
        from rcnn.onnx_model import read_model_info
        from rcnn.postprocess import resolve_classes

        self.setup = setup
        self.info = read_model_info(setup.model)
        self.classes = resolve_classes(setup.classes, self.info.metadata)
        self.systolic_config = systolic_config
        self.session: Any = None
        if setup.runner == "ort":
            from rcnn.native import _session

            self.session = _session(setup.ran, 99, setup.threads)

    def outputs(self, image: Path) -> dict[str, np.ndarray]:
        if self.session is not None:
            from rcnn.inputs import preprocess_mode
            from rcnn.preprocess import image_to_tensor

            first = self.info.inputs[0]
            feeds = {first.name: image_to_tensor(image, preprocess_mode(self.info, None), first.dims)}
            names = [o.name for o in self.session.get_outputs()]
            try:
                return dict(zip(names, self.session.run(names, feeds), strict=True))
            except Exception as e:  # ORT raises its own types
                raise RcnnError(f"inference failed on {image}: {str(e).strip().splitlines()[0]}") from None
        return self._ort_test(image)

    def _ort_test(self, image: Path) -> dict[str, np.ndarray]:
        from rcnn.inputs import prepare_inputs
        from rcnn.runner import RunConfig, run

        s = self.setup
        config = RunConfig(native=s.runner == "systolic-native", execution=s.execution, threads=s.threads,
                           custom_op_libs=list(s.custom_op_libs), systolic_config=self.systolic_config,
                           timeout=s.timeout, build=False, echo=False)
        with tempfile.TemporaryDirectory(prefix="rcnn-eval-") as tmp:
            work = Path(tmp)
            inputs, _ = prepare_inputs(self.info, image, [], None, work)
            try:  # the runner passes ort_test's stderr on (the accelerator's PROF lines): keep it off the bar
                with contextlib.redirect_stderr(io.StringIO()):
                    return run(s.ran, inputs, work, config).outputs
            except RcnnError as e:
                raise RcnnError(f"{image.name}: {e}") from None

    def evaluate(self, index: int, entry: dict, images_dir: Path) -> ImageResult:
        from rcnn.detections import find_detection_outputs, to_image_space
        from rcnn.postprocess import to_coco
        from rcnn.preprocess import load_rgb, target_hw

        image = images_dir / entry["file_name"]
        if not image.is_file():
            raise RcnnError(f"image not found: {image}")
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


_WORKER: Worker | None = None


def _init_worker(setup: WorkerSetup, systolic_config: Path | None) -> None:
    global _WORKER
    _WORKER = Worker(setup, systolic_config)


def _work(index: int, entry: dict, images_dir: Path) -> ImageResult:
    assert _WORKER is not None
    return _WORKER.evaluate(index, entry, images_dir)


def run_images(setup: WorkerSetup, data: Dataset, entries: Sequence[dict], workers: int, label: str,
               progress: bool, systolic_config: Path | None = None) -> list[ImageResult]:
    """Every image through the runner, in worker processes (in this process for one worker), with a progress bar."""
    from tqdm import tqdm

    bar = tqdm(total=len(entries), desc=label, unit="img", disable=not progress, file=sys.stderr)
    results: list[ImageResult] = []
    with bar:
        if workers <= 1:
            worker = Worker(setup, systolic_config)
            for i, e in enumerate(entries):
                results.append(worker.evaluate(i, e, data.images_dir))
                bar.update()
            return results
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch/ORT threads
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(setup, systolic_config)) as pool:
            futures: list[Future[ImageResult]] = [pool.submit(_work, i, e, data.images_dir)
                                                  for i, e in enumerate(entries)]
            try:
                for f in as_completed(futures):
                    results.append(f.result())
                    bar.update()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    return sorted(results, key=lambda r: r.index)


# ------------------------------------------------------------------------------------------------------- metrics


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """pycocotools prints progress and its summary on stdout: capture it."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield buf


def coco_ground_truth(annotations: Path) -> Any:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        raise RcnnError("rcnn.eval needs pycocotools (pip install pycocotools)") from None
    with _quiet():
        return COCO(str(annotations))


def coco_eval(gt: Any, detections: list[dict], image_ids: Sequence[int], iou: str) -> tuple[list[float], str]:
    """COCOeval stats (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl) in [0,1], -1 where there is
    no ground truth, and the printed summary. No detections at all scores 0."""
    from pycocotools.cocoeval import COCOeval

    if iou == "segm":  # area and bbox from the mask itself, not the box (loadRes takes a bbox key as a box result)
        detections = [{k: v for k, v in d.items() if k != "bbox"} for d in detections if "segmentation" in d]
    else:
        detections = [dict(d) for d in detections]  # loadRes adds keys (area, id, ...) to the dicts it is given
    if not detections:
        return [0.0] * len(STATS), "no detections"
    with _quiet() as out:
        ev = COCOeval(gt, gt.loadRes(detections), iou)
        ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats], out.getvalue()


@dataclass
class RunSummary:
    label: str
    runner: str
    model: str
    ran: str
    images: int
    of_images: int
    seconds_per_image: float
    wall_s: float
    detections: int
    box: dict[str, float] | None = None
    mask: dict[str, float] | None = None
    identical_to: dict[str, str] = field(default_factory=dict)


def summarize(spec: RunSpec, setup: WorkerSetup, data: Dataset, gt: Any, results: list[ImageResult],
              wall: float) -> RunSummary:
    dets = [d for r in results for d in r.detections]
    ids = [r.image_id for r in results]
    s = RunSummary(spec.label, spec.runner, str(setup.model), str(setup.ran), len(results), len(data.images),
                   sum(r.seconds for r in results) / max(len(results), 1), round(wall, 3), len(dets))
    s.box = dict(zip(STATS, coco_eval(gt, dets, ids, "bbox")[0], strict=True))
    if any("segmentation" in d for d in dets):
        s.mask = dict(zip(STATS, coco_eval(gt, dets, ids, "segm")[0], strict=True))
    return s


# ---------------------------------------------------------------------------------------------------- identity


def compare(a: list[dict], b: list[dict]) -> str:
    """Per-image records ({image_id, outputs_sha256, detections}) of two runs on the images they share."""
    by_id = {r["image_id"]: r for r in b}
    common = [r for r in a if r["image_id"] in by_id]
    if not common:
        return "no images in common"
    differ = [r["image_id"] for r in common if r["outputs_sha256"] != by_id[r["image_id"]]["outputs_sha256"]]
    if not differ:
        return f"bit-identical on {len(common)} image(s)"
    dets = sum(r["detections"] != by_id[r["image_id"]]["detections"] for r in common)
    return (f"DIFFER: raw outputs on {len(differ)} of {len(common)} image(s) (first image id {differ[0]}), "
            f"detections on {dets}")


def records(results: list[ImageResult]) -> list[dict]:
    return [{"image_id": r.image_id, "file_name": r.file_name, "outputs_sha256": r.outputs_sha256,
             "seconds": round(r.seconds, 4), "detections": r.detections} for r in results]


def read_detections_file(path: Path) -> dict[str, dict]:
    try:
        doc = json.loads(path.read_text())
        return {r["label"]: r for r in doc["runs"]}
    except OSError as e:
        raise RcnnError(f"cannot read {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RcnnError(f"{path} is not an rcnn.eval --detections file: {e}") from None


# ------------------------------------------------------------------------------------------------------- output


def _pts(v: float | None) -> str:
    return "-" if v is None or v < 0 else f"{100 * v:.1f}"


def format_table(summaries: Sequence[RunSummary]) -> str:
    rows = [("run", "runner", "model", "images", "box AP", "AP50", "AP75", "mask AP", "AP50", "AP75", "s/img")]
    for s in summaries:
        box, mask = s.box or {}, s.mask or {}
        images = f"{s.images}" if s.images == s.of_images else f"{s.images}/{s.of_images}"
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


# --------------------------------------------------------------------------------------------------------- CLI


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.eval", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-m", "--model", type=Path, default=None, help="ONNX detection model to evaluate with --runner")
    p.add_argument("--runner", choices=RUNNERS, default=None,
                   help="how --model (and --run entries without :RUNNER) run (default: ort)")
    p.add_argument("--run", action="append", default=[], metavar="[LABEL=]MODEL[:RUNNER]",
                   help="a model and runner to evaluate; repeat for several runs in one table (default label: "
                        "model stem:runner)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, default=None, metavar="DIR",
                     help="COCO folder: DIR/annotations.json, images by file_name relative to DIR (default: the "
                          "synthetic validation split, see --shapes-val)")
    src.add_argument("--annotations", type=Path, default=None, metavar="FILE",
                     help="COCO instances file (default: see --data); images relative to --images")
    p.add_argument("--images", type=Path, default=None, metavar="DIR",
                   help="folder the file_names are relative to (default: the annotations file's folder)")
    p.add_argument("--shapes-val", type=int, default=DEFAULT_SHAPES_VAL, metavar="N",
                   help="without --data/--annotations: the first N synthetic validation images "
                        "(build/shapes/val_N, generated when absent)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="evaluate only the first N images (default: all; the table shows N/total)")
    p.add_argument("-j", "--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes (1 = in this process)")
    p.add_argument("-x", "--execution", type=int, choices=[0, 1, 2], default=0,
                   help="systolic runners: accelerator execution mode (0 CPU, 1 output-stationary, 2 "
                        "weight-stationary)")
    p.add_argument("--systolic-config", type=Path, default=None, metavar="FILE",
                   help="accelerator config (default: ep/systolic/accelerator.toml)")
    p.add_argument("--score-threshold", type=float, default=0.0,
                   help="keep detections scoring at least this (mAP wants them all)")
    p.add_argument("--classes", default=None, metavar="coco|coco80|FILE.json",
                   help="label → category id/name (default: the model's rcnn.classes metadata, else COCO-91)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per worker")
    p.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds before one ort_test run is killed")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild the riscv64 runner and library first (rebuilt incrementally by default)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="write the summary (all COCO stats per run) to OUT, atomically (default: not written)")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="draw box and mask AP of every run as a bar chart to PNG (default: none)")
    p.add_argument("--detections", type=Path, default=None, metavar="OUT",
                   help="write per-image detections and raw-output hashes of every run to OUT (default: not "
                        "written)")
    p.add_argument("--compare-to", type=Path, default=None, metavar="FILE",
                   help="a --detections file of an earlier call: report whether each run here is bit-identical to "
                        "the run with the same label there, or to its only run (default: no comparison)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no COCO stats lines")
    return p


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.workers < 1 or a.threads < 1 or a.shapes_val < 1:
        p.error("--workers, --threads and --shapes-val must be >= 1")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")
    if a.images is not None and a.data is None and a.annotations is None:
        p.error("--images goes with --annotations (or overrides --data's folder)")


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


def plot_summaries(summaries: Sequence[RunSummary], title: str, out: Path) -> None:
    """Grouped bars of box and mask AP, one bar per run, written atomically as a PNG."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    width = 0.8 / max(1, len(summaries))
    for k, s in enumerate(summaries):
        xs = np.arange(2) + (k - (len(summaries) - 1) / 2) * width
        ap = [100 * (s.box or {}).get("AP", 0.0), 100 * (s.mask or {}).get("AP", 0.0)]
        bars = ax.bar(xs, ap, width * 0.95, label=f"{s.label} ({s.runner})")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(2), ["box AP", "mask AP"])
    ax.set_ylim(0, 118)  # room for the legend above the bars
    ax.set_ylabel("COCO AP @ IoU 0.50:0.95 (points)")
    ax.set_title(f"rcnn.eval: {Path(title).name}", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=min(3, len(summaries)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, out)


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    _check_args(p, a)
    runs = resolve_runs(a)
    earlier = read_detections_file(a.compare_to) if a.compare_to else None
    data = resolve_dataset(a)
    entries = data.images[:a.limit] if a.limit else data.images
    gt = coco_ground_truth(data.annotations)
    summaries, recs = [], {}
    for spec in runs:
        setup = prepare_setup(spec, a)
        start = time.perf_counter()
        results = run_images(setup, data, entries, min(a.workers, len(entries)), spec.label, not a.quiet,
                             a.systolic_config)
        summaries.append(summarize(spec, setup, data, gt, results, time.perf_counter() - start))
        recs[spec.label] = records(results)
    checks = identity_checks(runs, recs, summaries, earlier)
    subset = "" if len(entries) == len(data.images) else f" (first {len(entries)} of {len(data.images)} images)"
    print(f"== COCO mAP on {data.name}{subset}, score >= {a.score_threshold:g}; AP in points (x100)")
    print(format_table(summaries))
    if not a.quiet:
        for s in summaries:
            print("\n".join(format_stats(s)))
    if checks:
        print("== identity\n" + "\n".join(checks))
    doc = {"data": data.name, "annotations": str(data.annotations), "images": len(entries),
           "of_images": len(data.images), "score_threshold": a.score_threshold, "execution": a.execution,
           "runs": [asdict(s) for s in summaries]}
    if a.json:
        atomic_write(a.json, (json.dumps(doc, indent=2) + "\n").encode())
        print(f"  summary: {a.json}")
    if a.plot:
        plot_summaries(summaries, f"{data.name}{subset}", a.plot)
        print(f"  plot: {a.plot}")
    if a.detections:
        det_doc = {"data": data.name, "runs": [{"label": s.label, "runner": s.runner, "model": s.model,
                                               "images": recs[s.label]} for s in summaries]}
        atomic_write(a.detections, json.dumps(det_doc).encode())
        print(f"  detections: {a.detections}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.eval", main))
