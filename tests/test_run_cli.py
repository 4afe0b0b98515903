"""python -m rcnn.run as a user types it: images, flags, run directories, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from rcnn.runtime.runner import read_outputs

from conftest import only_run_dir, random_input, run_cli


def test_image_run_bit_identical_native_and_qemu(models: dict[str, Path], image: Path, tmp_path: Path) -> None:
    outs = {}
    for flag in ([], ["--native"]):
        parent = tmp_path / ("native" if flag else "rv64")
        r = run_cli("rcnn.run", "-m", models["int8"], "-i", image, "-p", "torchvision", "-o", parent, *flag,
                    cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        run_dir = only_run_dir(parent)
        assert {"input_0.pb", "output_0.pb", "output_1.pb", "outputs.json", "run.json"} <= {
            p.name for p in run_dir.iterdir()}
        outs[bool(flag)] = read_outputs(run_dir)[1]
    for name in outs[True]:
        np.testing.assert_array_equal(outs[True][name], outs[False][name], err_msg=name)


def test_runner_flags_reach_the_runner(models: dict[str, Path], tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 32, 32))
    opt = tmp_path / "optimized.onnx"
    args = ["--native", "-m", models["int8"], "--input", x, "-x", "2", "-O", "1", "-r", "3", "--threads", "2",
            "-t", "trace", "-s", opt, "-o", tmp_path / "runs"]
    r = run_cli("rcnn.run", *args, cwd=tmp_path)
    # The EP's compiled nodes cannot be serialized by ONNX Runtime: said before anything runs.
    assert r.returncode == 2 and "--partition off" in r.stderr and not (tmp_path / "runs").exists()
    r = run_cli("rcnn.run", *args, "--partition", "off", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report, _ = read_outputs(only_run_dir(tmp_path / "runs"))
    assert report["execution"] == 2 and report["graph_optimization_level"] == 1 and report["threads"] == 2
    assert len(report["timings_ms"]["inference"]) == 3
    assert list(tmp_path.glob("trace*.json")), "no profiling trace written"
    onnx.checker.check_model(onnx.load(str(opt)))


def test_npy_input_and_float64_cast(models: dict[str, Path], tmp_path: Path) -> None:
    x = np.random.default_rng(1).random((1, 3, 16, 16))  # float64, as numpy writes by default
    np.save(tmp_path / "x.npy", x)
    r = run_cli("rcnn.run", "--native", "-m", models["fp32"], "--input", tmp_path / "x.npy", "-o", tmp_path / "runs",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    _, outs = read_outputs(only_run_dir(tmp_path / "runs"))
    assert outs["y"].shape == (1, 10)


def _bad_inputs(models: dict[str, Path], tmp: Path) -> dict[str, list[str | Path]]:
    corrupt = tmp / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 100)
    not_image = tmp / "not_an_image.png"
    not_image.write_text("hello")
    x = random_input(tmp / "x.pb", (1, 3, 32, 32))
    wrong_shape = random_input(tmp / "w.pb", (1, 3, 8, 8))
    return {
        "missing model": ["-m", tmp / "nope.onnx", "-i", not_image],
        "corrupt model": ["-m", corrupt, "--input", x],
        "unreadable image": ["-m", models["int8"], "-i", not_image],
        "missing image": ["-m", models["int8"], "-i", tmp / "nope.png"],
        "wrong input count": ["-m", models["int8"], "--input", x, "--input", x],
        "no input": ["-m", models["int8"]],
        "wrong shape": ["-m", models["int8"], "--input", wrong_shape],
        # A million inferences cannot finish in 0.05 s, however fast the machine.
        "timeout": ["-m", models["int8"], "--input", x, "--timeout", "0.05", "-r", "1000000"],
    }


# The cause each bad input must be reported with, and the exit status (1 error, 3 refused input): a run failing for
# another reason (qemu missing, a broken build) must not pass.
BAD_INPUT_CAUSES = {
    "missing model": (1, "model not found: "),
    "corrupt model": (3, "not an ONNX model"),
    "unreadable image": (1, "cannot read image "),
    "missing image": (1, "image not found: "),
    "wrong input count": (1, "model has 1 inputs, got 2"),
    "no input": (1, "model has 1 inputs, got 0"),
    "wrong shape": (1, "input 'x' wants shape [1,3,32,32], got [1, 3, 8, 8]"),
    "timeout": (1, "exceeded its timeout of 0.05 s and was killed"),
}


@pytest.mark.parametrize("case", ["missing model", "corrupt model", "unreadable image", "missing image",
                                  "wrong input count", "no input", "wrong shape", "timeout"])
def test_bad_input_gives_one_line_error(case: str, models: dict[str, Path], tmp_path: Path) -> None:
    args = _bad_inputs(models, tmp_path)[case]
    r = run_cli("rcnn.run", *args, "-o", tmp_path / "runs", cwd=tmp_path)
    status, cause = BAD_INPUT_CAUSES[case]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rcnn.run: error: ") and cause in lines[0], r.stderr
    assert r.returncode == status, (r.returncode, r.stderr)
    leftovers = list((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else []
    assert leftovers == [], "a failed run left files behind"


def test_bad_flag_value_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli("rcnn.run", "-x", "7", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("rcnn.run: error: argument -x")


def _detector(path: Path) -> Path:
    """A stand-in detector: whatever the image, one box [16,8,48,40] of class 1 with score 0.9 and a 28x28 mask."""
    from onnx import TensorProto, helper, numpy_helper

    consts = {"boxes": np.array([[16, 8, 48, 40]], np.float32), "labels": np.array([1], np.int64),
              "scores": np.array([0.9], np.float32), "masks": np.ones((1, 1, 28, 28), np.float32)}
    nodes = [helper.make_node("ReduceMax", ["x"], ["unused"], keepdims=0)]
    nodes += [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v)) for k, v in consts.items()]
    outputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
               for k, v in consts.items()]
    graph = helper.make_graph(nodes, "detector", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [3, 64, 64])], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    helper.set_model_props(model, {"rcnn.preprocess": "torchvision", "rcnn.classes": json.dumps(["bg", "square"])})
    onnx.save(model, str(path))
    return path


def test_detection_run_writes_annotated_image(image: Path, tmp_path: Path) -> None:
    model = _detector(tmp_path / "detector.onnx")
    r = run_cli("rcnn.run", "-m", model, "-i", image, "-o", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    assert "annotated.png" in r.stdout and (run_dir / "annotated.png").is_file()
    dets = json.loads((run_dir / "detections.json").read_text())
    assert len(dets) == 1 and dets[0]["category_name"] == "square"
    # The 40x40 image was resized to the model's 64x64: boxes come back scaled by 40/64.
    np.testing.assert_allclose(dets[0]["bbox"], [10, 5, 20, 20], atol=0.01)


def test_session_config_reaches_the_runner(models: dict[str, Path], tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 16, 16))
    r = run_cli("rcnn.run", "--native", "-m", models["fp32"], "--input", x, "--session-config",
                "session.disable_quant_qdq=0", "-o", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    command = json.loads((only_run_dir(tmp_path / "runs") / "run.json").read_text())["command"]
    assert "session.disable_quant_qdq=0" in command and "session.disable_quant_qdq=1" not in command
    r = run_cli("rcnn.run", "--native", "-m", models["fp32"], "--input", x, "--session-config", "novalue",
                "-o", tmp_path / "runs2", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("rcnn.run: error: --session-config takes KEY=VALUE")


def test_float_model_hint_names_a_config_that_works(models: dict[str, Path], tmp_path: Path) -> None:
    """A float model on the int8 accelerator: the error names the shipped fp32 config, and that config places it."""
    x = random_input(tmp_path / "x.pb", (1, 3, 16, 16))
    r = run_cli("rcnn.run", "--native", "-m", models["fp32"], "--input", x, "--partition", "on",
                "-o", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    hinted = r.stderr.split("--systolic-config ")[1].split(")")[0]
    assert hinted.endswith("accelerator_fp32.toml") and Path(hinted).is_file(), r.stderr
    r = run_cli("rcnn.run", "--native", "-m", models["fp32"], "--input", x, "--partition", "on",
                "--systolic-config", hinted, "-o", tmp_path / "runs2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on the accelerator (fp32)" in r.stdout, r.stdout


def test_adds_cpu_keeps_every_residual_add_on_the_cpu(tmp_path: Path) -> None:
    """The demo Mask R-CNN natively: by default the EP takes residual adds; --adds cpu reaches ort_test and the EP,
    every QLinearAdd then runs on the CPU EP with that reason, and the detections stay."""
    placed = {}
    for adds in ("accelerator", "cpu"):
        r = run_cli("rcnn.run", "--native", "-x", "2", "--adds", adds, "-q", "-o", tmp_path / adds, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        run_dir = only_run_dir(tmp_path / adds)
        command = json.loads((run_dir / "run.json").read_text())["command"]
        assert ("--adds" in command) == (adds == "cpu"), command
        nodes = json.loads((run_dir / "placement.json").read_text())["nodes"]
        placed[adds] = {n["name"]: (n["placement"], n["reason"]) for n in nodes if n["op_type"] == "QLinearAdd"}
        assert len(json.loads((run_dir / "detections.json").read_text())) == 4
    assert any(p == "systolic" for p, _ in placed["accelerator"].values())
    assert placed["cpu"].keys() == placed["accelerator"].keys()
    assert all(p == "cpu" and reason.startswith("adds = cpu: residual adds stay on the CPU EP")
               for p, reason in placed["cpu"].values()), placed["cpu"]


def test_qdq_fusion_the_riscv64_ort_refuses_is_retried_without_it(tmp_path: Path) -> None:
    """quantize_static's QDQ form of the whole demo detector (per-channel, uint8): Debian's riscv64 ONNX Runtime fuses
    an RPN Mul by a per-channel quantized constant into a QLinearMul its own schema refuses, failing the session. The
    run is retried once without ORT's QDQ fusions, says so, and the detections come out."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from rcnn.models.demo import DEMO_IMAGE
    from rcnn.quant.data import ZooDataReader
    from rcnn.quant.dataset import list_images, target_dims, write_dataset
    from rcnn.quant.prepare import quiet_ort_logging

    fp32 = DEMO_IMAGE.parents[2] / "shapes_fp32.onnx"
    dims, name = target_dims(None, fp32, "nchw")
    write_dataset(list_images(DEMO_IMAGE.parent), tmp_path / "data", "torchvision", dims, name or "image")
    with quiet_ort_logging():
        quantize_static(str(fp32), str(tmp_path / "qdq.onnx"),
                        ZooDataReader(onnx.load(str(fp32)), tmp_path / "data", "None", 0, progress=False),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QUInt8)
    r = run_cli("rcnn.run", "-m", tmp_path / "qdq.onnx", "-i", DEMO_IMAGE, "-x", "2", "-o", tmp_path / "runs",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "note: ONNX Runtime refused a QLinear node its own QDQ fusion made" in r.stderr, r.stderr[-2000:]
    assert "Scale and Zero-point must be a scalar" in r.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    command = json.loads((run_dir / "run.json").read_text())["command"]
    assert "optimization.disable_specified_optimizers=QDQSelectorActionTransformer" in command
    assert len(json.loads((run_dir / "detections.json").read_text())) >= 3
