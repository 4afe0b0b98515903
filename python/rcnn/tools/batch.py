"""Batch runs (python -m rcnn.run -i FOLDER, or -i repeated): every image through `run_model` as a Ray task, one run
directory per image (BATCH/NAME/, as a single rcnn.run writes it) and a summary (summary.json, summary.txt,
overview.png: the annotated images side by side).

The worker runs the image in its own temporary folder and sends the run directory's files back; the driver writes
each one under a temp name and renames it into place, then records it in BATCH/journal.jsonl, so `--resume BATCH`
after an interrupt runs only the images that have no directory yet.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcnn.cluster.journal import Journal
from rcnn.cluster.ray_tasks import Failure, FanOutOptions, FanOutStats, fan_out
from rcnn.cluster.shipment import Shipment, land, ship, ship_model
from rcnn.errors import RcnnError
from rcnn.files import atomic_write, file_label, fresh_dir
from rcnn.runtime.bundle import Bundle
from rcnn.tools.runmodel import RunRequest, run_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def collect_images(given: Sequence[Path]) -> list[tuple[str, Path]]:
    """(run directory name, image) for every image given or in a given folder (its image files, sorted, not
    recursive); names are file stems, made unique with -2, -3, ..."""
    images: list[Path] = []
    for g in given:
        if g.is_dir():
            found = sorted(p for p in g.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise RcnnError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {g}")
            images += found
        else:
            images.append(g)
    names: dict[str, int] = {}
    out = []
    for image in images:
        stem = file_label(image.stem)
        names[stem] = names.get(stem, 0) + 1
        out.append((stem if names[stem] == 1 else f"{stem}-{names[stem]}", image))
    return out


@dataclass(frozen=True)
class BatchSetup:
    """The run every image gets, by value: the request (target, mode, ...) and the files it needs."""

    request: RunRequest  # image, output_dir and the files' paths are the worker's own
    model_files: Shipment
    bundle: Bundle | None  # the target's programs; None: --partition off and no device
    extra: Shipment | None  # the accelerator config and the user's custom-op libraries, by file name

    def key(self) -> dict[str, Any]:
        r, c = self.request, self.request.config
        return {"model": self.model_files.digest, "programs": self.bundle.digest if self.bundle else None,
                "files": self.extra.digest if self.extra else None, "native": c.native, "execution": c.execution,
                "device": c.device, "opt_level": c.opt_level, "session_config": c.session_config, "dim": c.dim,
                "qemu_cpu": c.qemu_cpu, "partition": r.partition, "preprocess": r.preprocess,
                "score_threshold": r.score_threshold, "classes": r.classes}


def prepare_batch(request: RunRequest) -> BatchSetup:
    """Build (or find) and pack what every image's run needs, once, in the driver."""
    from rcnn.runtime.bundle import local_runner_files, pack
    from rcnn.runtime.runner import RunConfig, uses_device

    c = request.config
    extra_files = {p.name: p for p in [*c.custom_op_libs, *([c.systolic_config] if c.systolic_config else [])]}
    if len(extra_files) != len(c.custom_op_libs) + (1 if c.systolic_config else 0):
        raise RcnnError("the accelerator config and custom-op libraries of a batch run need distinct file names")
    bundle = None
    if request.partition != "off":
        files = local_runner_files(c.native, False, c.build)
        if uses_device(dataclasses.replace(c, ep_lib=files.ep_lib)):
            files = local_runner_files(c.native, True, build_it=False)
        bundle = pack(files)
    template = dataclasses.replace(request, image=None, inputs=[], output_dir=Path("."),
                                   config=dataclasses.replace(c, build=False, echo=False))
    assert isinstance(template.config, RunConfig)
    return BatchSetup(template, ship_model(request.model), bundle, ship(extra_files) if extra_files else None)


class BatchWorker:
    """The request made local on the worker's machine: model, programs and files landed in its cache."""

    def __init__(self, setup: BatchSetup) -> None:
        from rcnn.runtime.bundle import unpack

        r, c = setup.request, setup.request.config
        model = land(setup.model_files) / r.model.name
        extra = land(setup.extra) if setup.extra else None
        files = unpack(setup.bundle) if setup.bundle else None
        config = dataclasses.replace(
            c, files=files, ep_lib=files.ep_lib if files and r.partition != "off" else None,
            systolic_config=extra / c.systolic_config.name if extra and c.systolic_config else None,
            custom_op_libs=[extra / p.name for p in c.custom_op_libs] if extra else [])
        self.request = dataclasses.replace(r, model=model, config=config)


@dataclass
class ImageRun:
    """What a worker sends back for one image: its run directory's files and a line of summary."""

    files: dict[str, bytes]
    summary: dict[str, Any] = field(default_factory=dict)


def run_image(worker: BatchWorker, payload: tuple[str, bytes | None]) -> ImageRun:
    """One image, sent by value, through run_model in a temporary folder (the body of a Ray task)."""
    name, data = payload
    if data is None:
        raise RcnnError(f"image not found or unreadable: {name}")
    with tempfile.TemporaryDirectory(prefix="rcnn-batch-") as tmp:
        image = Path(tmp) / name
        image.write_bytes(data)
        outcome = run_model(dataclasses.replace(worker.request, image=image, output_dir=Path(tmp) / "runs"))
        folder = outcome.run_dir
        files = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
    timings = outcome.result.report.get("timings_ms", {})
    placement = outcome.placement
    return ImageRun(files, {"detections": outcome.annotated, "wall_s": round(outcome.result.wall_s, 3),
                            "inference_ms": timings.get("inference_median"),
                            "mac_share": placement.mac_share if placement else None})


def _publish(folder: Path, files: dict[str, bytes], image: Path) -> None:
    """folder/ with `files`, all at once (temp folder, then rename); run.json names the driver's image."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for rel, data in files.items():
            if rel == "run.json":
                doc = json.loads(data)
                doc["image"] = str(image.resolve())
                data = (json.dumps(doc, indent=2) + "\n").encode()
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        tmp.chmod(0o755)
        if folder.exists():  # an earlier attempt's directory, not recorded as done: replaced
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass
class BatchOutcome:
    folder: Path
    rows: list[dict[str, Any]]  # per image, in the given order: name, image, status, summary or reason
    resumed: int
    stats: FanOutStats


def run_batch(request: RunRequest, images: Sequence[tuple[str, Path]], options: FanOutOptions,
              output_dir: Path, resume: Path | None) -> BatchOutcome:
    """Every image of `images` (name, path) through `request` into BATCH/NAME/; BATCH is `resume` or a fresh
    directory under output_dir."""
    setup = prepare_batch(request)
    folder = resume or fresh_dir(output_dir, f"{request.model.stem}-batch")
    journal = Journal(folder / "journal.jsonl", setup.key(), resume=resume is not None)
    by_name = dict(images)
    todo = [(name, path) for name, path in images if not journal.finished(name)]

    def read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError:
            return None

    def record(name: str, result: ImageRun | Failure) -> None:
        if isinstance(result, Failure):
            journal.add(name, "failed", {"image": str(by_name[name]), "reason": result.reason})
            return
        _publish(folder / name, result.files, by_name[name])
        journal.add(name, "ok", {"image": str(by_name[name]), **result.summary})

    stats = fan_out(BatchWorker, setup, run_image, ((n, (p.name, read(p))) for n, p in todo), len(todo), record,
                    options, already_done=len(images) - len(todo))
    rows = [{"name": name, **journal.done.get(name, {"status": "not run"})} for name, _ in images]
    outcome = BatchOutcome(folder, rows, len(images) - len(todo), stats)
    write_summary(outcome)
    return outcome


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    table = [("image", "status", "detections", "inference ms", "wall s", "")]
    for r in rows:
        dets = r.get("detections")
        ms = r.get("inference_ms")
        table.append((r["name"], r["status"], "-" if dets is None else str(len(dets)),
                      "-" if ms is None else f"{ms:.1f}", f"{r['wall_s']:.2f}" if "wall_s" in r else "-",
                      r.get("reason", "")))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i in (0, 1) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                  strict=False)))
             + ("  " + row[5] if row[5] else "") for row in table]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def write_summary(outcome: BatchOutcome) -> None:
    """summary.json and summary.txt (the table), and overview.png when images were annotated."""
    folder = outcome.folder
    done = [r for r in outcome.rows if r["status"] == "ok"]
    doc = {"images": len(outcome.rows), "done": len(done),
           "failed": sum(r["status"] == "failed" for r in outcome.rows), "resumed": outcome.resumed,
           "ran_on": outcome.stats.where, "wall_s": round(outcome.stats.wall_s, 3), "rows": outcome.rows}
    atomic_write(folder / "summary.json", (json.dumps(doc, indent=2) + "\n").encode())
    atomic_write(folder / "summary.txt", (format_rows(outcome.rows) + "\n").encode())
    annotated = [folder / r["name"] / "annotated.png" for r in done if (folder / r["name"] / "annotated.png").is_file()]
    if annotated:
        from rcnn.tools.plots import contact_sheet

        contact_sheet(annotated, folder / "overview.png")
