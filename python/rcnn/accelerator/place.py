"""Which model a run executes: the model partitioned for the accelerator (cached), or the model as it is.

`place_on_accelerator` decides and returns what it decided (the CLIs print it); it never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rcnn.accelerator.partition import NothingToPlace, partition_file
from rcnn.accelerator.placement import PlacementReport
from rcnn.errors import RcnnError

PARTITION_CHOICES = ("auto", "on", "off")
FLOAT_MODEL_HINT = ("quantize it first (python -m rcnn.calibrate), or run float Conv/MatMul on an fp32 accelerator "
                    "(--systolic-config with elem = \"fp32\")")


@dataclass
class Placement:
    """The model to run, its placement report (None: not partitioned) and what a user should be told."""

    model: Path
    report: PlacementReport | None
    messages: list[str] = field(default_factory=list)  # one line each, e.g. "== placement: none (...)"


def place_on_accelerator(model: Path, how: str, elem: str, fallback_dir: Path | None = None) -> Placement:
    """The model to run for `--partition how` (auto, on, off): partitioned for the `elem` accelerator (cached), or as
    it is when nothing can be placed. When the cache cannot be written, the partitioned model goes to
    `fallback_dir` (the run directory) instead."""
    if how == "off":
        return Placement(model, None)
    try:
        result = partition_file(model, elem=elem)
    except NothingToPlace as e:  # e.g. a float model for the int8 accelerator
        if how == "on":
            raise RcnnError(f"{e}; {FLOAT_MODEL_HINT}") from None
        return Placement(model, None, [f"== placement: none ({e}; {FLOAT_MODEL_HINT})"])
    if result.report.placed == 0:
        if how == "on":
            raise RcnnError(f"--partition on: no node of {model.name} can run on the {elem} accelerator")
        return Placement(model, result.report)
    messages = []
    if result.model_path is None:
        reason = "; ".join(n for n in result.report.notes if "cache" in n) or "the partition cache was not written"
        if fallback_dir is None:
            raise RcnnError(f"the partitioned model could not be written: {reason}")
        messages.append(f"== note: {reason}; the partitioned model goes to the run directory")
        result = partition_file(model, fallback_dir / "model.systolic.onnx", elem=elem, use_cache=False)
    assert result.model_path is not None
    return Placement(result.model_path, result.report, messages)
