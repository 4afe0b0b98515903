"""Preprocess spec strings (rcnn.runtime.preprocess): presets as specs, custom normalisations against NumPy, the
same tensors and the same refusals in Python and ort_test (native and under qemu), and specs arriving through the
model's rcnn.preprocess metadata, rcnn.run, rcnn.dataset and rcnn.calibrate's --data_preprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from rcnn import calibrate, run
from rcnn.cli import UsageError
from rcnn.errors import RcnnError
from rcnn.models import testnets
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.quant.data import apply_preprocess
from rcnn.runtime.inputs import preprocess_mode
from rcnn.runtime.preprocess import PRESETS, image_to_tensor, load_rgb, parse_spec
from rcnn.runtime.runner import NOISE_PREFIXES, RunConfig, read_outputs, runner_command
from rcnn.runtime.tensors import load_tensor

from conftest import only_run_dir, run_cli

TARGETS = ["native", "rv64"]
F32 = np.float32
IMAGENET = "rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225"
# Each preset and its spec, written out here rather than read from PRESETS, so a changed table fails the test.
PRESET_SPECS = {
    "zoo": "bgr,mean=102.9801:115.9465:122.7717",
    "rcnn": "mean=102.9801:115.9465:122.7717,bgr",
    "torchvision": "/255,rgb",
    "caffe2": "bgr,mean=103.939:116.779:123.68",
    "caffe": "scale=0.017,mean=103.94:116.78:123.68,bgr",
    "mxnet": "std=0.225:0.224:0.229,mean=0.406:0.456:0.485,/255,bgr",
    "none": "rgb",
    "None": "rgb",
}
# Specs Python and ort_test must both accept and turn into the same tensor: odd but valid numbers included
# (signs, a bare point, an exponent, a value that underflows double and one that underflows float32).
CUSTOM_SPECS = [
    IMAGENET,
    "bgr,scale=0.5,/255,std=0.5:0.25:2,mean=0.1",
    "mean=+127.5,std=-.5e+2,scale=1.",
    "bgr,mean=1e-400:0:-0,std=3,scale=1E-50",
    "mean=3.4028234e38:-1.17549435e-38:1.4e-45",
]
# (spec, the bad token its one-line error must name).
BAD_SPECS = [
    ("", "it is empty"),
    ("rgb,,/255", "token '' is unknown"),
    ("rgb,", "token '' is unknown"),
    ("imagenet", "token 'imagenet' is unknown"),
    ("zoo,scale=2", "token 'zoo' is unknown"),
    ("RGB", "token 'RGB' is unknown"),
    ("rgb, /255", "token ' /255' is unknown"),
    ("/256", "token '/256' is unknown"),
    ("mean", "token 'mean' is unknown"),
    ("offset=3", "token 'offset=3' is unknown"),
    ("rgb,bgr", "token 'bgr' repeats 'rgb'"),
    ("/255,/255", "token '/255' repeats '/255'"),
    ("mean=1,mean=2", "token 'mean=2' repeats 'mean=1'"),
    ("mean=1:2", "token 'mean=1:2' needs 1 or 3 values, got 2"),
    ("std=1:2:3:4", "token 'std=1:2:3:4' needs 1 or 3 values, got 4"),
    ("scale=1:2:3", "token 'scale=1:2:3' needs 1 value, got 3"),
    ("mean=", "token 'mean=' has '', not a finite decimal number"),
    ("mean=1::2", "token 'mean=1::2' has '', not a finite decimal number"),
    ("mean=nan", "token 'mean=nan' has 'nan', not a finite decimal number"),
    ("scale=inf", "token 'scale=inf' has 'inf', not a finite decimal number"),
    ("std=-infinity", "token 'std=-infinity' has '-infinity', not a finite decimal number"),
    ("mean=0x10", "token 'mean=0x10' has '0x10', not a finite decimal number"),
    ("mean=1_000", "token 'mean=1_000' has '1_000', not a finite decimal number"),
    ("mean=1,5", "token '5' is unknown"),
    ("mean=1e", "token 'mean=1e' has '1e', not a finite decimal number"),
    ("mean=.", "token 'mean=.' has '.', not a finite decimal number"),
    ("scale=1e39", "token 'scale=1e39' has '1e39', outside the float32 range"),
    ("mean=1:2:-1e999", "token 'mean=1:2:-1e999' has '-1e999', outside the float32 range"),
    ("std=0", "token 'std=0' has a std of 0"),
    ("std=1:-0.0:1", "token 'std=1:-0.0:1' has a std of 0"),
    ("std=1e-50", "token 'std=1e-50' has a std of 0"),
    ("mean=\n1", "token 'mean=\\x0a1' has '\\x0a1', not a finite decimal number"),
]


def ort_test(target: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [*runner_command(RunConfig(native=target == "native")), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    r.stderr = "".join(ln for ln in r.stderr.splitlines(keepends=True) if not ln.startswith(NOISE_PREFIXES))
    return r


def error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def python_error(spec: str) -> str:
    with pytest.raises(RcnnError) as e:
        parse_spec(spec)
    return str(e.value)


def ort_test_tensor(target: str, model: Path, image: Path, out: Path, *args: str) -> tuple[dict, np.ndarray]:
    r = ort_test(target, "-m", model, "-i", image, *args, "-o", out)
    assert r.returncode == 0, r.stderr
    report, outputs = read_outputs(out)
    return report, outputs["y"]


@pytest.mark.parametrize(("preset", "spec"), PRESET_SPECS.items())
def test_every_preset_is_its_spec(preset: str, spec: str, image: Path, tmp_path: Path) -> None:
    dims = [1, 3, None, None]
    np.testing.assert_array_equal(image_to_tensor(image, preset, dims), image_to_tensor(image, spec, dims))
    assert set(PRESET_SPECS) >= set(PRESETS)
    model = testnets.identity_net(tmp_path / "identity.onnx", [1, 3, "h", "w"])
    report, by_name = ort_test_tensor("native", model, image, tmp_path / "preset", "-p", preset)
    assert report["preprocess"] == {"rcnn": "zoo", "None": "none"}.get(preset, preset)
    _, by_spec = ort_test_tensor("native", model, image, tmp_path / "spec", "-p", spec)
    np.testing.assert_array_equal(by_name, by_spec)


def test_custom_specs_against_numpy(image: Path) -> None:
    rgb = load_rgb(image).astype(F32)
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1))
    # ImageNet: RGB, /255, minus mean, over std, per channel.
    mean = np.array([0.485, 0.456, 0.406], dtype=F32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=F32)[:, None, None]
    want = (chw / F32(255) - mean) / std
    np.testing.assert_array_equal(image_to_tensor(image, IMAGENET, [3, None, None]), want)
    # BGR with one mean for all channels, per-channel std and a scale; the tokens' order does not matter.
    bgr = chw[::-1]
    want = (bgr / F32(255) - F32(0.1)) / np.array([0.5, 0.25, 2], dtype=F32)[:, None, None] * F32(0.5)
    got = image_to_tensor(image, "bgr,scale=0.5,/255,std=0.5:0.25:2,mean=0.1", [1, 3, None, None])
    assert got.shape == (1, *want.shape) and got.dtype == F32
    np.testing.assert_array_equal(got[0], want)
    # Decimal -> double -> float32, as np.float32(float(text)).
    assert parse_spec("scale=0.1").scale == float(F32(0.1)) and parse_spec("bgr").bgr


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("spec", CUSTOM_SPECS)
def test_ort_test_spec_matches_python(target: str, spec: str, image: Path, tmp_path: Path) -> None:
    """ort_test -p SPEC and rcnn.preprocess give the same tensor bit for bit, with a resize ([3,24,20])."""
    for dims in ([1, 3, "h", "w"], [3, 24, 20]):
        model = testnets.identity_net(tmp_path / "identity.onnx", dims)
        report, got = ort_test_tensor(target, model, image, tmp_path / "out", "-p", spec)
        want = image_to_tensor(image, spec, [d if isinstance(d, int) else None for d in dims])
        assert report["preprocess"] == spec and got.shape == want.shape and got.dtype == F32
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("spec", "names"), BAD_SPECS)
def test_bad_specs_refused_alike(target: str, spec: str, names: str, models: dict[str, Path]) -> None:
    message = python_error(spec)
    assert message.startswith("bad preprocess spec: ") and names in message and "\n" not in message
    # The CLIs: a usage error (one line, exit 2, by rcnn.cli.run_cli) with the same message.
    with pytest.raises(UsageError) as e:
        run.build_parser().parse_args(["-p", spec])
    assert e.value.exit_code == 2 and str(e.value) == f"argument -p/--preprocess: {message}"
    # ort_test: the same message after its own prefix, exit 2.
    r = ort_test(target, "-m", models["fp32"], "-p", spec)
    assert r.returncode == 2, r.stderr
    assert error_line(r.stderr) == f"ort_test: error: -p: {message}"


def test_cli_usage_errors_are_one_line(tmp_path: Path) -> None:
    for prog, flag in [("rcnn.run", "-p"), ("rcnn.dataset", "-p"), ("rcnn.calibrate", "--data_preprocess"),
                       ("rcnn.native", "-p"), ("rcnn.compare", "-p")]:
        r = run_cli(prog, flag, "mean=1:2", cwd=tmp_path)
        assert r.returncode == 2, (prog, r.stderr)
        line = error_line(r.stderr)
        assert line.startswith(f"{prog}: error: argument {flag}") and line.endswith(
            ": bad preprocess spec: token 'mean=1:2' needs 1 or 3 values, got 2"), line
    assert "rgb,/255,mean=0.485:0.456:0.406" in run.build_parser().format_help().replace("\n", "").replace(" ", "")


def test_long_token_is_cut_in_the_message(models: dict[str, Path]) -> None:
    spec = "x" * 500
    message = python_error(spec)
    assert f"token '{'x' * 80}'... is unknown" in message
    assert error_line(ort_test("native", "-m", models["fp32"], "-p", spec).stderr).endswith(message)


@pytest.mark.parametrize("target", TARGETS)
def test_spec_in_metadata_runs_in_ort_test(target: str, image: Path, tmp_path: Path) -> None:
    model = testnets.identity_net(tmp_path / "identity.onnx", [1, 3, "h", "w"], preprocess=IMAGENET)
    report, got = ort_test_tensor(target, model, image, tmp_path / "out")
    assert report["preprocess"] == IMAGENET
    np.testing.assert_array_equal(got, image_to_tensor(image, IMAGENET, [1, 3, None, None]))
    bad = testnets.identity_net(tmp_path / "bad.onnx", [1, 3, "h", "w"], preprocess="rgb,std=0")
    r = ort_test(target, "-m", bad, "-i", image)
    assert r.returncode == 1
    assert error_line(r.stderr) == ("ort_test: error: the model's rcnn.preprocess metadata: "
                                    + python_error("rgb,std=0"))
    with pytest.raises(RcnnError, match=r"the model's rcnn\.preprocess metadata: bad preprocess spec: token 'std=0'"):
        preprocess_mode(read_model_info(bad), None)


def test_spec_in_metadata_round_trips_through_rcnn_run(image: Path, tmp_path: Path) -> None:
    spec = "bgr,/255,mean=0.5,std=0.25:0.5:1,scale=2"
    model = testnets.identity_net(tmp_path / "identity.onnx", [1, 3, "h", "w"], preprocess=spec)
    r = run_cli("rcnn.run", "--native", "-m", model, "-i", image, "-o", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    want = image_to_tensor(image, spec, [1, 3, None, None])
    np.testing.assert_array_equal(load_tensor(run_dir / "input_0.pb")[0], want)
    np.testing.assert_array_equal(read_outputs(run_dir)[1]["y"], want)
    assert not np.array_equal(want, image_to_tensor(image, "none", [1, 3, None, None]))


def test_dataset_writes_the_spec_tensor(image: Path, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(image.read_bytes())
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "ds", "-p", IMAGENET,
                "--size", "16", "20", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got, _ = load_tensor(tmp_path / "ds" / "test_data_set_0" / "input_0.pb")
    np.testing.assert_array_equal(got, image_to_tensor(image, IMAGENET, [1, 3, 16, 20]))
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "bad", "-p", "rgb,/255,",
                cwd=tmp_path)
    assert r.returncode == 2 and "token '' is unknown" in error_line(r.stderr) and not (tmp_path / "bad").exists()


def test_calibration_data_takes_a_spec(image: Path) -> None:
    raw = load_rgb(image).astype(F32).transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(apply_preprocess(raw, IMAGENET), image_to_tensor(image, IMAGENET, [1, 3, None, None]))
    parser = calibrate.build_parser()
    required = ["--model_path", "m", "--dataset_path", "d", "--static", "true"]
    for name in ("rcnn", "None", "torchvision", IMAGENET):
        assert parser.parse_args([*required, "--data_preprocess", name]).data_preprocess == name
