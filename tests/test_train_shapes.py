"""rcnn.train_shapes end to end in miniature: a few training steps, then the packaging through the project's own
export → optimize → dataset → calibrate pipeline (the shipped demo model was made by the same code, 1200 steps)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import onnx

from rcnn.models.training import FP32_NAME, INT8_NAME, learning_rate

from conftest import run_cli


def test_learning_rate_warms_up_then_decays() -> None:
    lrs = [learning_rate(s, 1200, 1e-3) for s in range(1200)]
    assert lrs[0] == 1e-5 and abs(lrs[99] - 1e-3) < 1e-12 and lrs[-1] < 1e-6
    assert all(a <= b for a, b in itertools.pairwise(lrs[:100]))
    assert all(a >= b for a, b in itertools.pairwise(lrs[99:]))


def test_train_then_package(tmp_path: Path) -> None:
    r = run_cli("rcnn.train_shapes", "--iterations", "3", "--calibration-images", "2", "--work", tmp_path / "work",
                "--out", tmp_path / "out", "-q", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr
    log = json.loads((tmp_path / "work" / "train_log.json").read_text())
    assert [e["step"] for e in log["log"]] == [0, 1, 2] and all(e["loss"] > 0 for e in log["log"])
    out = tmp_path / "out"
    assert (out / "training.png").stat().st_size > 0 and (out / "demo" / "annotations.json").is_file()
    int8 = onnx.load(str(out / INT8_NAME))
    ops = {n.op_type for n in int8.graph.node}
    assert {"QLinearConv", "QLinearMatMul"} <= ops and "ConvTranspose" not in ops
    meta = {p.key: p.value for p in int8.metadata_props}
    assert json.loads(meta["rcnn.classes"])[1:] == ["circle", "square", "triangle"]
    assert (out / FP32_NAME).stat().st_size > 3 * (out / INT8_NAME).stat().st_size  # int8 weights, a quarter
    # A second call reuses the checkpoint instead of training again.
    r = run_cli("rcnn.train_shapes", "--train-only", "--work", tmp_path / "work", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "using the checkpoint" in r.stdout
