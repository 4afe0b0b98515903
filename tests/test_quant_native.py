"""python -m rcnn.native: the host's stock ORT CPU EP, run directories in ort_test's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from rcnn.runtime.runner import read_outputs
from rcnn.runtime.tensors import load_tensor

from conftest import only_run_dir, random_input, run_cli

KEYS = {"model", "ort_version", "execution", "graph_optimization_level", "threads", "preprocess", "inputs",
        "outputs", "timings_ms"}


def _python_ort(model: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # what -O 1 asks for
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds), strict=True))


def test_fp32_and_int8_match_python_ort(models: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("fp32", "int8"):
        model = models[kind]
        feed_shape = (1, 3, 16, 16) if kind == "fp32" else (1, 3, 32, 32)
        x = random_input(tmp_path / f"{kind}.pb", feed_shape)
        r = run_cli("rcnn.native", "-m", model, "--input", x, "-r", "3", "--threads", "2", "-O", "1",
                    "-o", tmp_path / kind, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        run_dir = only_run_dir(tmp_path / kind)
        report, outputs = read_outputs(run_dir)
        assert set(report) == KEYS and report["execution"] is None and report["ort_version"] == ort.__version__
        assert report["graph_optimization_level"] == 1 and report["threads"] == 2
        assert len(report["timings_ms"]["inference"]) == 3
        assert (run_dir / "input_0.pb").is_file()
        want = _python_ort(model, {report["inputs"][0]["name"]: load_tensor(x)[0]})
        assert list(outputs) == list(want)
        for name, array in want.items():
            np.testing.assert_array_equal(outputs[name], array)
            assert next(o for o in report["outputs"] if o["name"] == name)["dtype"] == str(array.dtype)


def test_image_input_records_preprocess(models: dict[str, Path], image: Path, tmp_path: Path) -> None:
    r = run_cli("rcnn.native", "-m", models["fp32"], "-i", image, "-p", "torchvision", "-o", tmp_path / "runs",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report, _ = read_outputs(only_run_dir(tmp_path / "runs"))
    assert report["preprocess"] == "torchvision"


def test_bad_inputs_are_one_line_errors(models: dict[str, Path], tmp_path: Path) -> None:
    wrong = random_input(tmp_path / "x.pb", (1, 3, 5, 5))
    for args, text in (((), "model has 1 inputs, got 0"), (("--input", wrong), "wants shape"),
                       (("--input", tmp_path / "missing.pb"), "input file not found")):
        r = run_cli("rcnn.native", "-m", models["fp32"], *args, "-o", tmp_path / "runs", cwd=tmp_path)
        assert r.returncode == 1 and r.stderr.startswith("rcnn.native: error:") and text in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
