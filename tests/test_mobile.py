"""Mobile test networks (rcnn.models.mobile) and their accuracy table (rcnn.tools.accuracy, python -m rcnn.accuracy).

One tiny MobileNetV3-small (32 px, 3 training steps) is trained once per session: it has every op of the real one
(depthwise convs, hard-sigmoid/hard-swish, squeeze-and-excitation), so the graph checks and the whole pipeline
(optimize, calibrate, three schemes, CPU EP and Systolic EP) run on it in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from rcnn.models import mobile
from rcnn.tools import accuracy

from conftest import ROOT, run_cli

TINY = 32
SEG = 64  # the smallest scene make_sample draws: its shapes reach a radius of 40 px


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[mobile.MobileModel, Path]:
    out = tmp_path_factory.mktemp("mobile")
    cfg = mobile.TrainConfig("classifier", TINY, steps=3, batch=4, pool=8)
    return mobile.ensure_model(out, cfg, progress=False), out


@pytest.fixture(scope="module")
def evaluated(tiny: tuple[mobile.MobileModel, Path], systolic: Any) -> tuple[list[accuracy.Row], list[np.ndarray]]:
    model, out = tiny
    return accuracy.evaluate_model(model, out, images=8, calib=4, progress=False)


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in graph.node for o in n.output}


def test_tiny_model_has_the_mobile_ops(tiny: tuple[mobile.MobileModel, Path]) -> None:
    model = onnx.load(str(tiny[0].path))
    graph = model.graph
    assert [i.name for i in graph.input] == ["x"]
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [1, 3, TINY, TINY]
    assert model.opset_import[0].version == 17
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["rcnn.preprocess"] == mobile.PREPROCESS
    assert json.loads(meta["rcnn.classes"]) == ["circle", "square", "triangle"]
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    depthwise = []
    for n in (n for n in graph.node if n.op_type == "Conv"):
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w = weights[n.input[1]]
        if group > 1 and group == w.shape[0] and w.shape[1] == 1:  # one input channel per output channel
            depthwise.append(n.name)
    assert len(depthwise) >= 5, depthwise
    ops = {n.op_type for n in graph.node}
    assert "BatchNormalization" not in ops  # folded at export
    assert "HardSigmoid" in ops
    producers = _producers(graph)
    hard_swish, squeeze_excite = 0, 0
    for n in (n for n in graph.node if n.op_type == "Mul"):
        for k, t in enumerate(n.input):
            p = producers.get(t)
            if p is not None and p.op_type == "HardSigmoid":
                # x * hardsigmoid(x) is hard-swish decomposed; a gate computed from another tensor is SE's Mul.
                if p.input[0] == n.input[1 - k]:
                    hard_swish += 1
                else:
                    squeeze_excite += 1
    assert hard_swish + sum(n.op_type == "HardSwish" for n in graph.node) > 0
    assert squeeze_excite >= 3


def test_pipeline_gives_a_row_per_scheme(evaluated: tuple[list[accuracy.Row], list[np.ndarray]]) -> None:
    rows, _ = evaluated
    assert [r.scheme for r in rows] == [accuracy.FLOAT, *accuracy.SCHEMES]
    for r in rows:
        assert r.error is None, r
        assert r.metric == "top-1"
        assert r.cpu is not None and 0.0 <= r.cpu <= 1.0
    for r in rows[1:]:
        assert r.accelerator is not None and 0.0 <= r.accelerator <= 1.0
        assert r.cosine_cpu is not None and -1.0 <= r.cosine_cpu <= 1.0
        assert r.mac_fraction is not None and 0.0 <= r.mac_fraction <= 1.0
        assert "QLinearConv" in r.quantized_ops
    # Every scheme with symmetric int8 weights reaches the accelerator (asymmetric uint8 weights mostly do not).
    symmetric = [r for r in rows[1:] if not r.scheme.startswith("uint8")]
    assert len(symmetric) == 4
    for r in symmetric:
        assert r.mac_fraction is not None and r.mac_fraction > 0.5, r
        assert r.nodes_on_accelerator


def test_float_metric_equals_torch(tiny: tuple[mobile.MobileModel, Path],
                                   evaluated: tuple[list[accuracy.Row], list[np.ndarray]]) -> None:
    import torch

    model, out = tiny
    rows, float_out = evaluated
    paths, labels = mobile.load_eval_set(mobile.data_dir(out, "classifier", TINY) / "eval", "classifier", 8)
    net = mobile.load_trained("classifier", model.state)  # the unfolded PyTorch model, BN and all
    with torch.no_grad():
        logits = [net(torch.from_numpy(x)).numpy() for x in accuracy.load_inputs(paths)]
    torch_top1 = float(np.mean([int(np.argmax(lg)) == g for lg, g in zip(logits, labels, strict=True)]))
    assert rows[0].cpu == pytest.approx(torch_top1, abs=1e-6)
    scale = max(1.0, max(float(np.abs(lg).max()) for lg in logits))
    for got, want in zip(float_out, logits, strict=True):
        assert np.abs(got - want).max() / scale < 1e-4


def test_outputs_are_written(tmp_path: Path, evaluated: tuple[list[accuracy.Row], list[np.ndarray]]) -> None:
    rows, _ = evaluated
    files = accuracy.write_outputs(rows, tmp_path, {"command": "test"})
    doc = json.loads(files["json"].read_text())
    assert len(doc["rows"]) == len(rows) and doc["settings"]["command"] == "test"
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = files["markdown"].read_text().splitlines()
    assert len(table) == 2 + len(rows) and all(line.startswith("|") for line in table)


def test_metrics_by_hand() -> None:
    truth = [np.array([[0, 1], [2, 2]])]
    # prediction: 0 1 / 2 1 -> class 0: 1/1, class 1: 1/2, class 2: 1/2
    logits = np.zeros((1, 3, 2, 2), np.float32)
    for (y, x), c in np.ndenumerate(np.array([[0, 1], [2, 1]])):
        logits[0, c, y, x] = 1.0
    assert accuracy.mean_iou([logits], truth, 3) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert accuracy.top1([np.array([[0.1, 0.9]]), np.array([[0.8, 0.2]])], [1, 1]) == 0.5
    assert accuracy.mean_cosine([np.array([1.0, 0.0])], [np.array([0.0, 2.0])]) == pytest.approx(0.0)


def test_cli_help_and_bad_flags(tmp_path: Path) -> None:
    help_text = run_cli("rcnn.accuracy", "--help", cwd=tmp_path).stdout
    for flag in ("--out", "--images", "--calib", "--models", "--train-steps", "-q"):
        assert flag in help_text
    assert "runs/mobile" in help_text
    for bad in (["--models", "classifier,detector"], ["--images", "0"], ["--train-steps", "x"]):
        r = run_cli("rcnn.accuracy", *bad, "--out", tmp_path / "o", cwd=tmp_path)
        assert r.returncode == 2, r
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("rcnn.accuracy: error:"), r.stderr
        assert not (tmp_path / "o").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_cli("rcnn.accuracy", "--out", blocker / "sub", "-q", cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_readme_table_is_the_measured_one() -> None:
    """The README section exists with the command; its rows name every scheme."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Mobile networks", 1)[1].split("\n## ", 1)[0]
    assert "python -m rcnn.accuracy" in section
    for scheme in accuracy.SCHEMES:
        assert scheme in section


def test_tiny_segmenter_exports_and_scores(tmp_path: Path) -> None:
    """The LRASPP segmenter: per-pixel logits at the input size, an mIoU in [0, 1] against its masks."""
    cfg = mobile.TrainConfig("segmenter", SEG, steps=1, batch=2)
    model = mobile.ensure_model(tmp_path, cfg, progress=False)
    graph = onnx.load(str(model.path)).graph
    assert [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim] == [1, 4, SEG, SEG]
    assert "HardSigmoid" in {n.op_type for n in graph.node}
    eval_dir, _ = mobile.ensure_data(tmp_path, "segmenter", SEG, images=3, calib=1, progress=False)
    paths, masks = mobile.load_eval_set(eval_dir, "segmenter", 3)
    assert all(m.shape == (SEG, SEG) and m.max() <= 3 for m in masks)
    outputs, _ = accuracy.run_all(accuracy.cpu_session(model.path), accuracy.load_inputs(paths), "", False)
    assert 0.0 <= accuracy.mean_iou(outputs, masks, 4) <= 1.0
