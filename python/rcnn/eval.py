"""python -m rcnn.eval: COCO box and mask mAP (pycocotools) of detection models on a dataset, per runner.

Runners, data and the checks between runs: rcnn.tools.evaluate (printed by --help).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, positive_seconds, run_cli
from rcnn.cluster.flags import add_fan_out_flags, fan_out_options
from rcnn.cluster.journal import Journal
from rcnn.cluster.ray_tasks import ray_connection
from rcnn.detection.coco_eval import coco_ground_truth, read_detections_file
from rcnn.errors import RcnnError
from rcnn.files import atomic_write, file_label, fresh_dir
from rcnn.runtime.runner import add_device_flag
from rcnn.tools import evaluate as evaluate_lib
from rcnn.tools.evaluate import (
    DEFAULT_SHAPES_VAL,
    RUNNERS,
    EvalOptions,
    format_stats,
    format_table,
    identity_checks,
    prepare_setup,
    records,
    resolve_dataset,
    resolve_runs,
    run_images,
    summarize,
)
from rcnn.tools.plots import plot_summaries


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.eval", description=evaluate_lib.__doc__, formatter_class=HelpFormatter)
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
    add_fan_out_flags(p)
    p.add_argument("-x", "--execution", type=int, choices=[0, 1, 2], default=0,
                   help="systolic runners: accelerator execution mode (0 CPU, 1 output-stationary, 2 "
                        "weight-stationary)")
    p.add_argument("--systolic-config", type=Path, default=None, metavar="FILE",
                   help="accelerator config (default: ep/systolic/accelerator.toml)")
    add_device_flag(p)
    p.add_argument("--score-threshold", type=float, default=0.0,
                   help="keep detections scoring at least this (mAP wants them all)")
    p.add_argument("--classes", default=None, metavar="coco|coco80|FILE.json",
                   help="label → category id/name (default: the model's rcnn.classes metadata, else COCO-91)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per image")
    p.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds before one ort_test run is killed")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild the riscv64 runner and library first (rebuilt incrementally by default)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent of the fresh evaluation directory (DIR/STAMP-eval) that receives each run's results "
                        "journal (LABEL.jsonl, written image by image) and summary.json")
    p.add_argument("--resume", type=Path, default=None, metavar="DIR",
                   help="continue the interrupted evaluation in DIR (an earlier one's evaluation directory): images "
                        "its journals hold as done are not run again, failed ones are (default: start anew)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="also write the summary (all COCO stats per run) to OUT, atomically (default: only "
                        "summary.json in the evaluation directory)")
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
    if a.threads < 1 or a.shapes_val < 1:
        p.error("--threads and --shapes-val must be >= 1")
    if a.resume is not None and not a.resume.is_dir():
        p.error(f"--resume {a.resume}: no such evaluation directory")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")
    if a.images is not None and a.data is None and a.annotations is None:
        p.error("--images goes with --annotations (or overrides --data's folder)")


def _progress(text: str) -> None:
    print(text, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    _check_args(p, a)
    runs = resolve_runs(a.run, a.model, a.runner)
    earlier = read_detections_file(a.compare_to) if a.compare_to else None
    data = resolve_dataset(a.data, a.annotations, a.images, a.shapes_val, _progress)
    entries = data.images[:a.limit] if a.limit else data.images
    gt = coco_ground_truth(data.annotations)
    opts = EvalOptions(score_threshold=a.score_threshold, classes=a.classes, execution=a.execution, device=a.device,
                       threads=a.threads, timeout=a.timeout, systolic_config=a.systolic_config, build=not a.no_build)
    setups = [prepare_setup(spec, opts) for spec in runs]  # a model or build problem stops us before any folder
    folder = a.resume or fresh_dir(a.output_dir, "eval")
    summaries, recs, failed = [], {}, {}
    fan = fan_out_options(a.ray_address, a.workers, a.retries, a.threads, not a.quiet, "")
    with ray_connection(fan):  # one Ray start for all runs
        for spec, setup in zip(runs, setups, strict=True):
            journal = Journal(folder / f"{file_label(spec.label)}.jsonl", setup.key(), resume=a.resume is not None)
            start = time.perf_counter()
            outcome = run_images(setup, data, entries, dataclasses.replace(fan, label=spec.label), journal)
            summaries.append(summarize(spec, setup, data, gt, outcome.results, time.perf_counter() - start))
            summaries[-1].failed, summaries[-1].resumed = len(outcome.failed), outcome.resumed
            recs[spec.label], failed[spec.label] = records(outcome.results), outcome.failed
            _progress(f"== {spec.label}: {len(outcome.results)} done, {len(outcome.failed)} failed, "
                      f"{outcome.resumed} resumed from {journal.path}; ran on "
                      f"{outcome.stats.where or 'nothing (all resumed)'}")
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
           "runs": [asdict(s) for s in summaries], "failed": failed}
    atomic_write(folder / "summary.json", (json.dumps(doc, indent=2) + "\n").encode())
    print(f"  evaluation directory: {folder} (summary.json, results journals)")
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
    for label, images in failed.items():
        for f in images:
            print(f"  FAILED {label} {f['file_name']}: {f['reason']}")
    count = sum(len(v) for v in failed.values())
    if count:
        raise RcnnError(f"{count} image(s) failed and are not scored (reasons above and in {folder}/summary.json)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.eval", main))
