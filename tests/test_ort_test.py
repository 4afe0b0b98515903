"""The C++ runner itself, natively and under qemu: flags, image preprocessing, errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from rcnn.models import testnets
from rcnn.runtime.preprocess import MODES, image_to_tensor
from rcnn.runtime.runner import NOISE_PREFIXES, RunConfig, read_outputs, runner_command

from conftest import random_input

TARGETS = ["native", "rv64"]


def ort_test(target: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [*runner_command(RunConfig(native=target == "native")), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    r.stderr = "".join(ln for ln in r.stderr.splitlines(keepends=True) if not ln.startswith(NOISE_PREFIXES))
    return r


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ort_test: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("target", TARGETS)
def test_help_lists_every_flag(target: str) -> None:
    r = ort_test(target, "--help")
    assert r.returncode == 0
    for flag in ["--model", "--image", "--input", "--preprocess", "--execution", "-O", "-d", "--trace",
                 "--save-optimized", "--output-dir", "--threads", "--custom-op-lib", "--repeat"]:
        assert flag in r.stdout, flag


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("mode", "dims"), [(m, [1, 3, "h", "w"]) for m in MODES] + [("zoo", [3, 24, 20])])
def test_image_preprocessing_matches_python(target: str, mode: str, dims: list, image: Path, tmp_path: Path) -> None:
    """ort_test -i and rcnn.preprocess give the same tensor bit for bit, resize included (dims [3,24,20])."""
    model = testnets.identity_net(tmp_path / "identity.onnx", dims)
    r = ort_test(target, "-m", model, "-i", image, "-p", mode, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    got = read_outputs(tmp_path / "out")[1]["y"]
    want = image_to_tensor(image, mode, [d if isinstance(d, int) else None for d in dims])
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", TARGETS)
def test_preprocess_defaults_to_model_metadata(target: str, image: Path, tmp_path: Path) -> None:
    model = testnets.identity_net(tmp_path / "identity.onnx", [1, 3, "h", "w"], preprocess="caffe2")
    r = ort_test(target, "-m", model, "-i", image, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    report, outs = read_outputs(tmp_path / "out")
    assert report["preprocess"] == "caffe2"
    np.testing.assert_array_equal(outs["y"], image_to_tensor(image, "caffe2", [1, 3, None, None]))
    bare = testnets.identity_net(tmp_path / "bare.onnx", [1, 3, "h", "w"])
    assert "-p" in one_error_line(ort_test(target, "-m", bare, "-i", image))


@pytest.mark.parametrize("target", TARGETS)
def test_errors_are_one_line(target: str, models: dict[str, Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x12\x34not a model" * 50)
    text = tmp_path / "text.png"
    text.write_text("not an image")
    x = random_input(tmp_path / "x.pb", (1, 3, 32, 32))
    truncated = tmp_path / "trunc.pb"
    truncated.write_bytes(x.read_bytes()[:-100])
    # (arguments, exit status, what the line must say): the cause, not just the prefix.
    cases = {
        "missing model": (["-m", tmp_path / "nope.onnx", "--input", x], 1, "cannot open model"),
        "corrupt model": (["-m", corrupt, "--input", x], 3, "cannot read model"),
        "unreadable image": (["-m", models["int8"], "-i", text, "-p", "none"], 1, "cannot decode image"),
        "wrong input count": (["-m", models["int8"], "--input", x, "--input", x], 1, "model has 1 inputs, got 2"),
        "truncated tensor": (["-m", models["int8"], "--input", truncated], 1, str(truncated)),
        "bad mode": (["-m", models["int8"], "--input", x, "-x", "5"], 2, "-x"),
    }
    for case, (args, code, cause) in cases.items():
        r = ort_test(target, *args)
        assert r.returncode == code, (case, r.returncode, r.stderr)
        assert cause in one_error_line(r), (case, r.stderr)
