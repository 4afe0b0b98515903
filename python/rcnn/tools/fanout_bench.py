"""python -m rcnn.bench --fan-out N: what Ray costs and gives on a dataset. The demo model on the first N synthetic
validation images through rcnn.eval's per-image work, side by side in one invocation:
  bare      the same per-image function in a plain loop in this process (no Ray: the floor)
  ray -j K  rcnn.eval's path: a local Ray instance of K CPUs, one task per image, results journalled
Ratios: Ray overhead = ray -j 1 / bare - 1 (start-up, shipping, scheduling, journal; per image); speed-up =
bare / ray -j K. Every path must give bit-identical raw outputs per image.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rcnn.cluster.journal import Journal
from rcnn.cluster.ray_tasks import FanOutOptions
from rcnn.detection.coco_eval import load_dataset
from rcnn.models.demo import DEMO_MODEL
from rcnn.tools.evaluate import (
    EvalOptions,
    RunSpec,
    Worker,
    evaluate_image,
    prepare_setup,
    run_images,
    shapes_val_folder,
)


@dataclass
class FanOutRow:
    label: str
    wall_s: float
    digests: dict[int, str]  # image id → raw outputs' sha256


def fan_out_bench(images: int, runner: str, execution: int, workers: Sequence[int],
                  progress: bool = True) -> list[FanOutRow]:
    folder = shapes_val_folder(images)
    data = load_dataset(folder / "annotations.json", folder)
    entries = data.images[:images]
    setup = prepare_setup(RunSpec("bench", DEMO_MODEL, runner), EvalOptions(execution=execution))
    rows = []
    start = time.perf_counter()
    worker = Worker(setup)
    bare = {}
    for i, e in enumerate(entries):
        r = evaluate_image(worker, (i, e, (data.images_dir / e["file_name"]).read_bytes()))
        bare[r.image_id] = r.outputs_sha256
    rows.append(FanOutRow("bare loop (no Ray)", time.perf_counter() - start, bare))
    for k in workers:
        with tempfile.TemporaryDirectory(prefix="rcnn-fanout-") as tmp:
            journal = Journal(Path(tmp) / "j.jsonl", setup.key(), resume=False)
            start = time.perf_counter()
            outcome = run_images(setup, data, entries, FanOutOptions(workers=k, progress=progress,
                                                                     label=f"ray -j {k}"), journal)
            wall = time.perf_counter() - start
        rows.append(FanOutRow(f"ray -j {k}", wall, {r.image_id: r.outputs_sha256 for r in outcome.results}))
    return rows


def format_fan_out(rows: Sequence[FanOutRow], images: int) -> list[str]:
    bare = rows[0]
    lines = [f"fan-out: {images} images, wall time"]
    for r in rows:
        extra = ""
        if r is not bare:
            extra = (f"  overhead {100 * (r.wall_s / bare.wall_s - 1):+.1f} % vs bare" if r.label == "ray -j 1"
                     else f"  speed-up {bare.wall_s / r.wall_s:.2f}x vs bare")
        lines.append(f"  {r.label:<20} {r.wall_s:8.1f} s  {r.wall_s / max(images, 1):6.2f} s/image{extra}")
    same = all(r.digests == bare.digests and len(r.digests) == images for r in rows)
    lines.append(f"raw outputs bit-identical per image across the {len(rows)} paths: {same}")
    return lines
