"""python -m rcnn.run: run an ONNX model on the emulated riscv64 machine (qemu-riscv64), or natively.

With no arguments it runs the built-in demo: the int8 Mask R-CNN trained on synthetic shapes (python -m
rcnn.train_shapes) on a demo image, under qemu-riscv64 on the systolic accelerator, and writes the annotated image.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rcnn import paths
from rcnn.cli import ArgumentParser, HelpFormatter, positive_seconds, run_cli
from rcnn.detections import find_detection_outputs, looks_like_detections, to_image_space
from rcnn.errors import RcnnError
from rcnn.inputs import prepare_inputs
from rcnn.onnx_model import ModelInfo, read_model_info
from rcnn.partition import NothingToPlace, partition_file
from rcnn.placement import PlacementReport
from rcnn.postprocess import ANNOTATE_MIN_SIDE, image_id_of, resolve_classes, write_results
from rcnn.preprocess import ALIASES, MODES, load_rgb, target_hw
from rcnn.rundir import fresh_run_dir
from rcnn.runner import DEFAULT_SESSION_CONFIG, RunConfig, RunResult, run, systolic_library
from rcnn.systolic import read_config

DEMO_MODEL = paths.MODELS_DIR / "shapes" / "shapes_int8.onnx"
DEMO_IMAGE = paths.MODELS_DIR / "shapes" / "demo" / "images" / "00003.png"  # all three classes
LIST_DETECTIONS = 12  # printed after a run; detections.json has them all


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.run", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-m", "--model", type=Path, default=None,
                   help=f"ONNX model to run (default: the built-in demo model {DEMO_MODEL.name})")
    p.add_argument("-i", "--image", type=Path, default=None,
                   help="image file for the model's first input, preprocessed by -p (default: the demo image when "
                        "the model is the demo model)")
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="a tensor file (.pb ONNX TensorProto or .npy) for a model input; repeat for several. A .pb "
                        "whose name matches an input goes to it, the rest fill the remaining inputs in order")
    p.add_argument("-p", "--preprocess", choices=[*MODES, *ALIASES], default=None,
                   help="image preprocessing: " + "; ".join(f"{k}: {m.doc}" for k, m in MODES.items())
                   + ". Default: the model's rcnn.preprocess metadata")
    p.add_argument("-x", "--execution", type=int, choices=[0, 1, 2], default=0,
                   help="accelerator execution mode: 0 CPU, 1 output-stationary, 2 weight-stationary")
    p.add_argument("-O", dest="opt_level", type=int, choices=[0, 1, 2, 99], default=99,
                   help="ONNX Runtime graph optimization level (0 none, 1 basic, 2 extended, 99 all)")
    p.add_argument("-d", dest="log_severity", type=int, choices=range(5), default=3,
                   help="ONNX Runtime log severity (0 verbose, 1 info, 2 warning, 3 error, 4 fatal)")
    p.add_argument("-t", "--trace", default=None, metavar="PREFIX",
                   help="write an ONNX Runtime profiling trace (JSON) with this file prefix (default: no trace)")
    p.add_argument("-s", "--save-optimized", type=Path, default=None, metavar="PATH",
                   help="save the graph as optimized by ONNX Runtime to PATH (default: not saved)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent directory of the fresh run directory that receives inputs, outputs and logs")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("-r", "--repeat", type=int, default=1, help="run inference this many times (times: min, median)")
    p.add_argument("--custom-op-lib", type=Path, action="append", default=[], metavar="SO",
                   help="custom-op library to register (for --native a host .so, else a riscv64 .so)")
    p.add_argument("--partition", choices=["auto", "on", "off"], default="auto",
                   help="place int8 conv/matmul/add on the systolic accelerator (python -m rcnn.partition) and run "
                        "with its custom-op library: auto = when anything can be placed, on = insist, off = run the "
                        "model as it is on ONNX Runtime's CPU EP")
    p.add_argument("--systolic-config", type=Path, default=None, metavar="FILE",
                   help="accelerator config (TOML subset, like ep/systolic/accelerator.toml; default: that file)")
    p.add_argument("--dim", type=int, default=None, help="systolic array size (default: the config's dim)")
    p.add_argument("--score-threshold", type=float, default=0.5,
                   help="detection models with an image input: draw and list detections scoring at least this")
    p.add_argument("--classes", default=None, metavar="coco|coco80|FILE.json",
                   help="detection class names (default: the model's rcnn.classes metadata, else COCO)")
    p.add_argument("--session-config", action="append", default=[], metavar="KEY=VALUE",
                   help="ONNX Runtime session config entry, repeatable (default: session.disable_quant_qdq=1, which "
                        "stops ORT 1.21 from quantizing the weights of float convs after a DequantizeLinear; give "
                        "session.disable_quant_qdq=0 to run a QDQ model with ORT's QDQ fusions)")
    p.add_argument("--native", action="store_true",
                   help="run the host build on the host's ONNX Runtime instead of riscv64 under qemu")
    p.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds before the run is killed")
    p.add_argument("--qemu-cpu", default=None, metavar="CPU",
                   help="qemu-riscv64 -cpu model, e.g. rv64 or 'rv64,v=true,vlen=128' (default: qemu's own)")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild the riscv64 runner before running (it is rebuilt incrementally by default)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not show the runner's own output")
    return p


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.threads < 1 or a.repeat < 1:
        p.error("--threads and --repeat must be ≥ 1")
    if any("=" not in entry or entry.startswith("=") for entry in a.session_config):
        p.error("--session-config takes KEY=VALUE")
    if a.model is None:
        a.model = DEMO_MODEL
        if a.image is None and not a.input:
            a.image = DEMO_IMAGE


FLOAT_MODEL_HINT = ("quantize it first (python -m rcnn.calibrate), or run float Conv/MatMul on an fp32 accelerator "
                    "(--systolic-config with elem = \"fp32\")")


def place_on_accelerator(model: Path, how: str, elem: str,
                         fallback_dir: Path | None = None) -> tuple[Path, PlacementReport | None]:
    """The model to run: partitioned for the accelerator (cached), or as it is when nothing can be placed. When the
    cache cannot be written, the partitioned model goes to `fallback_dir` (the run directory) instead."""
    if how == "off":
        return model, None
    try:
        result = partition_file(model, elem=elem)
    except NothingToPlace as e:  # e.g. a float model for the int8 accelerator
        if how == "on":
            raise RcnnError(f"{e}; {FLOAT_MODEL_HINT}") from None
        print(f"== placement: none ({e}; {FLOAT_MODEL_HINT})")
        return model, None
    if result.report.placed == 0:
        if how == "on":
            raise RcnnError(f"--partition on: no node of {model.name} can run on the {elem} accelerator")
        return model, result.report
    if result.model_path is None:
        reason = "; ".join(n for n in result.report.notes if "cache" in n) or "the partition cache was not written"
        if fallback_dir is None:
            raise RcnnError(f"the partitioned model could not be written: {reason}")
        print(f"== note: {reason}; the partitioned model goes to the run directory")
        result = partition_file(model, fallback_dir / "model.systolic.onnx", elem=elem, use_cache=False)
    return result.model_path, result.report


def postprocess_detections(work: Path, result: RunResult, info: ModelInfo, a: argparse.Namespace) -> list[str] | None:
    """For a detection model run on an image: annotated.png and detections.json in the run directory; returns the
    drawn detections as "name score" strings (None when the model is no detector or ran without an image)."""
    if a.image is None or not looks_like_detections(result.outputs):
        return None
    rgb = load_rgb(a.image)
    input_hw = target_hw(info.inputs[0].dims, rgb.shape[:2])
    dets = to_image_space(find_detection_outputs(result.outputs), input_hw, rgb.shape[:2], a.score_threshold)
    classes = resolve_classes(a.classes, info.metadata)
    write_results(work, rgb, dets, classes, image_id_of(a.image), ANNOTATE_MIN_SIDE)
    return [f"{classes.name(int(label))} {score:.2f}" for label, score in zip(dets.labels, dets.scores, strict=True)]


def print_placement(report: PlacementReport) -> None:
    share = report.mac_share
    print(f"== placement: {report.placed} of {len(report.nodes)} nodes on the accelerator ({report.elem})"
          + (f", {100 * share:.1f} % of MACs" if share is not None else "")
          + f", {report.transposes_inserted} transposes inserted"
          + (" (cached)" if report.from_cache else ""))
    for note in report.notes:
        print(f"  note: {note}")


def print_systolic(stats: dict) -> None:
    """One line from the accelerator's counters (the runner prints the per-op table; outputs.json keeps it)."""
    total = stats.get("total")
    if not total:
        return
    mode = stats.get("mode", "?")
    tiled = (f"{total.get('tiles', 0):,} tiles, est. {total.get('cycles', 0):,} cycles" if mode != "cpu"
             else "no tiling in this mode (-x 1 or -x 2 for tiles and a cycle estimate)")
    print(f"== accelerator ({mode} mode): {total.get('calls', 0)} op calls, {total.get('macs', 0):,} MACs, {tiled}")


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    _check_args(parser, a)
    info = read_model_info(a.model)
    elem = read_config(a.systolic_config)["elem"]
    target = "native (host)" if a.native else "riscv64 under qemu"
    with fresh_run_dir(a.output_dir, f"{a.model.stem}-{'native' if a.native else 'rv64'}") as holder:
        work = holder[0]
        model, placement = place_on_accelerator(info.path, a.partition, elem, fallback_dir=work)
        libs = list(a.custom_op_lib)
        if model != info.path:
            libs.append(systolic_library(a.native, build_it=not a.no_build))
        config = RunConfig(native=a.native, execution=a.execution, opt_level=a.opt_level,
                           log_severity=a.log_severity, threads=a.threads, repeat=a.repeat, trace=a.trace,
                           save_optimized=a.save_optimized, custom_op_libs=libs, systolic_config=a.systolic_config,
                           dim=a.dim, timeout=a.timeout, qemu_cpu=a.qemu_cpu, build=not a.no_build,
                           echo=not a.quiet,
                           session_config={**DEFAULT_SESSION_CONFIG,
                                           **dict(e.split("=", 1) for e in a.session_config)})
        inputs, mode = prepare_inputs(info, a.image, a.input, a.preprocess, work)
        result = run(model.resolve(), [f.resolve() for f in inputs], work.resolve(), config)
        (work / "stdout.txt").write_text(result.stdout)
        annotated = postprocess_detections(work, result, info, a)
        if placement is not None:
            (work / "placement.txt").write_text(placement.format_table() + "\n")
            (work / "placement.json").write_text(placement.to_json())
        (work / "run.json").write_text(json.dumps({
            "model": str(info.path.resolve()),
            "ran": model.name if model.parent == work else str(model.resolve()),  # a bare name: in this directory
            "image": str(a.image.resolve()) if a.image else None, "preprocess": mode,
            "target": "native" if a.native else "riscv64-qemu", "command": result.command,
            "wall_s": round(result.wall_s, 3)}, indent=2) + "\n")
    result.out_dir = holder[0].resolve()
    print_summary(result, target)
    if placement is not None:
        print_placement(placement)
    print_systolic(result.report.get("systolic", {}))
    if annotated is not None:
        shown = ", ".join(annotated[:LIST_DETECTIONS]) + (f", … {len(annotated) - LIST_DETECTIONS} more"
                                                           if len(annotated) > LIST_DETECTIONS else "")
        print(f"\n== {len(annotated)} detection(s) scoring >= {a.score_threshold}: {shown or '-'}")
        print(f"  annotated image: {result.out_dir / 'annotated.png'} (list: detections.json)")
    print(f"  run directory: {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.run", main))
