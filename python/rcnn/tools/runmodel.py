"""One run of a model, the way python -m rcnn.run does it: inputs prepared, the accelerator attached (the Systolic
plugin EP, which places nodes when ort_test creates its session), ort_test run (natively or under qemu) into a fresh
run directory, placement written, detections post-processed, run.json written.

`run_model` returns what happened (`RunOutcome`); the CLI prints it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from rcnn.accelerator.placement import PlacementReport
from rcnn.detection.detections import find_detection_outputs, looks_like_detections, to_image_space
from rcnn.detection.postprocess import ANNOTATE_MIN_SIDE, image_id_of, resolve_classes, write_results
from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.onnxgraph.model_info import ModelInfo, read_model_info
from rcnn.runtime.inputs import prepare_inputs
from rcnn.runtime.preprocess import load_rgb, target_hw
from rcnn.runtime.rundir import fresh_run_dir
from rcnn.runtime.runner import (
    DEFAULT_SESSION_CONFIG,
    RunConfig,
    RunResult,
    run,
    systolic_ep_library,
)

# --partition: auto = the EP takes what it can, on = the same but a run where it placed nothing is an error,
# off = no EP (ORT's CPU EP alone).
PARTITION_CHOICES = ("auto", "on", "off")


def float_model_hint() -> str:
    """What to do with a model the int8 accelerator takes nothing of, naming the fp32 config file the package ships."""
    from rcnn.accelerator.systolic import config_path

    try:
        fp32 = str(config_path(fp32=True))
    except RcnnError:
        fp32 = "a config file with elem = \"fp32\""
    return ("quantize it first (python -m rcnn.calibrate), or run float Conv/MatMul on the fp32 accelerator "
            f"(--systolic-config {fp32})")


def default_session_config(partition: str) -> dict[str, str]:
    """ONNX Runtime session entries a run starts from. The EP must see QDQ units as they are: disable_quant_qdq=1
    makes ORT fold the weights' DequantizeLinear into float initializers before the EP is asked (0 % placed)."""
    return {} if partition != "off" else dict(DEFAULT_SESSION_CONFIG)


@dataclass
class RunRequest:
    """What to run and how (python -m rcnn.run's flags)."""

    model: Path
    image: Path | None = None
    inputs: list[Path] = field(default_factory=list)
    preprocess: str | None = None
    partition: str = "auto"  # PARTITION_CHOICES
    score_threshold: float = 0.5
    classes: str | None = None
    output_dir: Path = Path("runs")
    config: RunConfig = field(default_factory=RunConfig)  # target, mode, threads, libraries, session config, ...


@dataclass
class RunOutcome:
    result: RunResult
    run_dir: Path
    placement: PlacementReport | None  # None: --partition off
    annotated: list[str] | None  # drawn detections as "name score" (None: no detector, or no image)


def annotate_detections(work: Path, result: RunResult, info: ModelInfo, image: Path | None, score_threshold: float,
                        classes: str | None) -> list[str] | None:
    """For a detection model run on an image: annotated.png and detections.json in the run directory; returns the
    drawn detections as "name score" strings (None when the model is no detector or ran without an image)."""
    if image is None or not looks_like_detections(result.outputs):
        return None
    rgb = load_rgb(image)
    input_hw = target_hw(info.inputs[0].dims, rgb.shape[:2])
    dets = to_image_space(find_detection_outputs(result.outputs), input_hw, rgb.shape[:2], score_threshold)
    names = resolve_classes(classes, info.metadata)
    write_results(work, rgb, dets, names, image_id_of(image), ANNOTATE_MIN_SIDE)
    return [f"{names.name(int(label))} {score:.2f}" for label, score in zip(dets.labels, dets.scores, strict=True)]


def check_ep_placed(placement: PlacementReport, how: str, model_name: str) -> None:
    """--partition on insists that the EP placed something (it decides only when the session is created)."""
    if how == "on" and placement.placed == 0:
        raise RcnnError(f"--partition on: the Systolic EP placed no node of {model_name} on the {placement.elem} "
                        f"accelerator; {float_model_hint()}")


def run_model(req: RunRequest) -> RunOutcome:
    """Runs `req` into a fresh run directory."""
    info = read_model_info(req.model)
    native = req.config.native
    with fresh_run_dir(req.output_dir, f"{req.model.stem}-{'native' if native else 'rv64'}") as holder:
        work = holder[0]
        ep_lib = None  # the caller's (a batch worker's bundle), else this machine's build
        if req.partition != "off":
            ep_lib = req.config.ep_lib or systolic_ep_library(native, build_it=req.config.build)
        config = dataclasses.replace(req.config, ep_lib=ep_lib)
        inputs, mode = prepare_inputs(info, req.image, req.inputs, req.preprocess, work)
        result = run(info.path.resolve(), [f.resolve() for f in inputs], work.resolve(), config)
        (work / "stdout.txt").write_text(result.stdout)
        placement = None
        if "systolic_ep" in result.report:
            placement = PlacementReport.from_ep(result.report["systolic_ep"], str(info.path))
            check_ep_placed(placement, req.partition, info.path.name)
        annotated = annotate_detections(work, result, info, req.image, req.score_threshold, req.classes)
        if placement is not None:
            (work / "placement.txt").write_text(placement.format_table() + "\n")
            (work / "placement.json").write_text(placement.to_json())
        (work / "run.json").write_text(json.dumps({
            "model": str(info.path.resolve()),
            "image": str(req.image.resolve()) if req.image else None, "preprocess": mode,
            "target": "native" if native else "riscv64-qemu", "command": result.command,
            "wall_s": round(result.wall_s, 3)}, indent=2) + "\n")
    result.out_dir = holder[0].resolve()
    _name_final_dir(result, work.resolve())
    return RunOutcome(result, result.out_dir, placement, annotated)


def _name_final_dir(result: RunResult, hidden: Path) -> None:
    """The run worked in a hidden directory that is renamed at the end: the files that name it (stdout.txt with
    ort_test's output paths, run.json with its command) name the published one instead."""
    old, new = str(hidden), str(result.out_dir)
    result.command = [c.replace(old, new) for c in result.command]
    result.stdout = result.stdout.replace(old, new)
    for name in ("stdout.txt", "run.json"):
        f = result.out_dir / name
        text = f.read_text()
        if old in text:
            atomic_write(f, text.replace(old, new).encode())
