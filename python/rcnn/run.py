"""python -m rcnn.run: run an ONNX model on the emulated riscv64 machine (qemu-riscv64), or natively.

With no arguments it runs the built-in demo: the int8 Mask R-CNN trained on synthetic shapes (python -m
rcnn.train_shapes) on a demo image, under qemu-riscv64 on the systolic accelerator, and writes the annotated image.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rcnn.accelerator.placement import PlacementReport
from rcnn.cli import ArgumentParser, HelpFormatter, positive_seconds, run_cli
from rcnn.cluster.flags import add_fan_out_flags, fan_out_options
from rcnn.errors import RcnnError
from rcnn.models.demo import DEMO_IMAGE, DEMO_MODEL
from rcnn.runtime.preprocess import preprocess_arg, preprocess_help
from rcnn.runtime.runner import RunConfig, RunResult, add_adds_flag, add_device_flag, resolve_device
from rcnn.tools.batch import collect_images, format_rows, run_batch
from rcnn.tools.runmodel import (
    PARTITION_CHOICES,
    RunRequest,
    default_session_config,
    float_model_hint,
    run_model,
)

LIST_DETECTIONS = 12  # printed after a run; detections.json has them all


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.run", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-m", "--model", type=Path, default=None,
                   help=f"ONNX model to run (default: the built-in demo model {DEMO_MODEL.name})")
    p.add_argument("-i", "--image", type=Path, action="append", default=[],
                   help="image file for the model's first input, preprocessed by -p (default: the demo image when "
                        "the model is the demo model). A folder, or -i repeated, makes a batch run: each image is a "
                        "Ray task (see -j, --ray-address), with its own run directory in BATCH = -o/STAMP-MODEL-batch "
                        "and a summary there (summary.txt/.json, overview.png)")
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="a tensor file (.pb ONNX TensorProto or .npy) for a model input; repeat for several. A .pb "
                        "whose name matches an input goes to it, the rest fill the remaining inputs in order")
    p.add_argument("-p", "--preprocess", type=preprocess_arg, default=None, metavar="SPEC",
                   help=preprocess_help("Default: the model's rcnn.preprocess metadata (a preset or a spec)"))
    p.add_argument("-x", "--execution", type=int, choices=[0, 1, 2], default=0,
                   help="accelerator execution mode: 0 CPU, 1 output-stationary, 2 weight-stationary")
    p.add_argument("-O", dest="opt_level", type=int, choices=[0, 1, 2, 99], default=99,
                   help="ONNX Runtime graph optimization level (0 none, 1 basic, 2 extended, 99 all)")
    p.add_argument("-d", dest="log_severity", type=int, choices=range(5), default=3,
                   help="ONNX Runtime log severity (0 verbose, 1 info, 2 warning, 3 error, 4 fatal)")
    p.add_argument("-t", "--trace", default=None, metavar="PREFIX",
                   help="write an ONNX Runtime profiling trace (JSON) with this file prefix (default: no trace)")
    p.add_argument("-s", "--save-optimized", type=Path, default=None, metavar="PATH",
                   help="save the graph as optimized by ONNX Runtime to PATH (default: not saved; needs --partition "
                        "off: ONNX Runtime cannot serialize the Systolic EP's compiled nodes)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent directory of the fresh run directory that receives inputs, outputs and logs")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("-r", "--repeat", type=int, default=1, help="run inference this many times (times: min, median)")
    p.add_argument("--custom-op-lib", type=Path, action="append", default=[], metavar="SO",
                   help="a custom-op library of your own to register, repeatable (for --native a host .so, else a "
                        "riscv64 .so; default: none)")
    p.add_argument("--partition", choices=PARTITION_CHOICES, default="auto",
                   help="the Systolic plugin execution provider (librcnn_systolic_ep.so) places quantized "
                        "conv/matmul/gemm/add units (float ones with an fp32 --systolic-config) on the accelerator "
                        "when ONNX Runtime creates the session: auto = what the accelerator can run, on = the same "
                        "but fail when nothing is placed, off = no EP, the model on ONNX Runtime's CPU EP alone")
    p.add_argument("--systolic-config", type=Path, default=None, metavar="FILE",
                   help="accelerator config (TOML subset, like ep/systolic/accelerator.toml; default: that file)")
    p.add_argument("--dim", type=int, default=None, help="systolic array size (default: the config's dim)")
    add_device_flag(p)
    add_adds_flag(p)
    p.add_argument("--score-threshold", type=float, default=0.5,
                   help="detection models with an image input: draw and list detections scoring at least this")
    p.add_argument("--classes", default=None, metavar="coco|coco80|FILE.json",
                   help="detection class names (default: the model's rcnn.classes metadata, else COCO)")
    p.add_argument("--session-config", action="append", default=[], metavar="KEY=VALUE",
                   help="ONNX Runtime session config entry, repeatable (default with the EP: none, since "
                        "session.disable_quant_qdq=1 would fold the weights' DequantizeLinear before the EP sees a "
                        "QDQ unit; with --partition off: session.disable_quant_qdq=1, which stops ORT from "
                        "quantizing the weights of float convs after a DequantizeLinear)")
    p.add_argument("--native", action="store_true",
                   help="run the host build on the host's ONNX Runtime instead of riscv64 under qemu")
    p.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds before the run is killed")
    p.add_argument("--qemu-cpu", default=None, metavar="CPU",
                   help="qemu-riscv64 -cpu model, e.g. rv64 or 'rv64,v=true,vlen=128' (default: qemu's own)")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild the riscv64 runner before running (it is rebuilt incrementally by default)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="do not show the runner's own output (batch runs: no progress bar either)")
    batch = p.add_argument_group("batch runs (-i FOLDER or -i repeated)")
    add_fan_out_flags(batch)
    batch.add_argument("--resume", type=Path, default=None, metavar="BATCH",
                       help="continue the interrupted batch run in BATCH: images with a finished run directory there "
                            "are not run again, failed ones are (default: a fresh batch directory)")
    return p


def is_batch(a: argparse.Namespace) -> bool:
    return len(a.image) > 1 or any(i.is_dir() for i in a.image) or a.resume is not None


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.threads < 1 or a.repeat < 1:
        p.error("--threads and --repeat must be ≥ 1")
    if any("=" not in entry or entry.startswith("=") for entry in a.session_config):
        p.error("--session-config takes KEY=VALUE")
    if a.save_optimized is not None and a.partition != "off":
        p.error("-s saves the optimized graph, which ONNX Runtime cannot serialize with the Systolic EP's compiled "
                "nodes in it: add --partition off")
    if a.model is None:
        a.model = DEMO_MODEL
        if not a.image and not a.input:
            a.image = [DEMO_IMAGE]
    if is_batch(a):
        if not a.image:
            p.error("--resume continues a batch run: give its images again with -i")
        if a.input or a.trace or a.save_optimized:
            p.error("a batch run (-i FOLDER, -i repeated) takes images only: no --input, -t or -s")
        if a.resume is not None and not (a.resume / "journal.jsonl").is_file():
            p.error(f"--resume {a.resume}: no batch run there (no journal.jsonl)")


def print_placement(report: PlacementReport) -> None:
    if report.placed == 0:
        print(f"== placement: none ({len(report.nodes)} nodes, none for the {report.elem} accelerator; "
              f"{float_model_hint()})")
        return
    share = report.mac_share
    print(f"== placement: {report.placed} of {len(report.nodes)} nodes on the accelerator ({report.elem})"
          + (f", {100 * share:.1f} % of MACs" if share is not None else "")
          + f" in {report.compiled_nodes} compiled node(s) of the Systolic EP")


def print_systolic(stats: dict, native: bool) -> None:
    """One line from the accelerator's counters (the runner prints the per-op table; outputs.json keeps it)."""
    total = stats.get("total")
    if not total:
        return
    mode = stats.get("mode", "?")
    tiled = (f"{total.get('tiles', 0):,} tiles, est. {total.get('cycles', 0):,} cycles" if mode != "cpu"
             else "no tiling in this mode (-x 1 or -x 2 for tiles and a cycle estimate)")
    where = stats.get("arithmetic", "in-process")
    where = ("in the native device process" if where.startswith("device")
             else "native, in ort_test's process" if native else "in the emulated RISC-V guest")
    print(f"== accelerator ({mode} mode, arithmetic {where}): {total.get('calls', 0)} op calls, "
          f"{total.get('macs', 0):,} MACs, {tiled}")


def print_summary(result: RunResult, target: str) -> None:
    print(f"\n== {target}: {len(result.outputs)} output(s)")
    for name, arr in result.outputs.items():
        stats = ""
        if arr.size and arr.dtype.kind in "biuf":
            stats = f"min {arr.min():.6g}  max {arr.max():.6g}  mean {arr.astype(np.float64).mean():.6g}"
        print(f"  {name:<24} {arr.dtype!s:<8} {list(arr.shape)!s:<18} {stats}")
    t = result.report.get("timings_ms", {})
    print(f"  session {t.get('session_create', float('nan')):.1f} ms, inference median "
          f"{t.get('inference_median', float('nan')):.2f} ms (min {t.get('inference_min', float('nan')):.2f} ms), "
          f"wall {result.wall_s:.2f} s")


def run_many(request: RunRequest, a: argparse.Namespace, target: str) -> int:
    images = collect_images(a.image)
    options = fan_out_options(a.ray_address, a.workers, a.retries, a.threads, not a.quiet, request.model.stem)
    outcome = run_batch(request, images, options, a.output_dir, a.resume)
    print(f"== batch of {len(images)} image(s), {target}: {outcome.resumed} resumed, "
          f"ran on {outcome.stats.where or 'nothing (all resumed)'} in {outcome.stats.wall_s:.1f} s")
    print(format_rows(outcome.rows))
    print(f"  batch directory: {outcome.folder} (one run directory per image, summary.txt, summary.json"
          + (", overview.png)" if (outcome.folder / "overview.png").is_file() else ")"))
    failed = sum(r["status"] != "ok" for r in outcome.rows)
    if failed:
        raise RcnnError(f"{failed} of {len(images)} image(s) failed (reasons in {outcome.folder}/summary.txt)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    _check_args(parser, a)
    target = "native (host)" if a.native else "riscv64 under qemu"
    config = RunConfig(native=a.native, execution=a.execution, opt_level=a.opt_level, log_severity=a.log_severity,
                       threads=a.threads, repeat=a.repeat, trace=a.trace, save_optimized=a.save_optimized,
                       custom_op_libs=list(a.custom_op_lib), systolic_config=a.systolic_config, dim=a.dim,
                       device=resolve_device(a.device, a.native), adds=a.adds,
                       timeout=a.timeout, qemu_cpu=a.qemu_cpu, build=not a.no_build, echo=not a.quiet,
                       session_config={**default_session_config(a.partition),
                                       **dict(e.split("=", 1) for e in a.session_config)})
    request = RunRequest(model=a.model, image=a.image[0] if a.image else None, inputs=list(a.input),
                         preprocess=a.preprocess, partition=a.partition, score_threshold=a.score_threshold,
                         classes=a.classes, output_dir=a.output_dir, config=config)
    if is_batch(a):
        return run_many(request, a, target)
    outcome = run_model(request)
    result, placement, annotated = outcome.result, outcome.placement, outcome.annotated
    print_summary(result, target)
    if placement is not None:
        print_placement(placement)
    print_systolic(result.report.get("systolic_ep", {}), a.native)
    if annotated is not None:
        shown = ", ".join(annotated[:LIST_DETECTIONS]) + (f", … {len(annotated) - LIST_DETECTIONS} more"
                                                           if len(annotated) > LIST_DETECTIONS else "")
        print(f"\n== {len(annotated)} detection(s) scoring >= {a.score_threshold}: {shown or '-'}")
        print(f"  annotated image: {result.out_dir / 'annotated.png'} (list: detections.json)")
    print(f"  run directory: {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.run", main))
