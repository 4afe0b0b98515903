"""Regression tests for the defects a hostile-user probe found (issue 14), one section per finding.

Each test failed before its fix: it asserts the cause of a refusal (message and exit status), not just the
`rcnn.X: error:` prefix, so a run failing for another reason does not pass it.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn import paths
from rcnn.models import testnets
from rcnn.runtime.preprocess import image_to_tensor
from rcnn.runtime.tensors import load_tensor, save_tensor

from conftest import ROOT, alive, children, random_input, run_cli, wait_for

DEMO = paths.MODELS_DIR / "shapes" / "shapes_int8.onnx"
REFUSED = 3  # exit status of a refused model or input, rcnn CLIs and ort_test alike


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def _rcnn(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _one_line_error(r: subprocess.CompletedProcess[str], prog: str, code: int, *phrases: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), r.stderr[-2000:]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


# ------------------------------------------------------------------------------------------------ 1. interrupts


def _qemu_child(proc: subprocess.Popen[str]) -> int:
    """The qemu-riscv64 process the run started (waits for it)."""
    found: list[int] = []

    def started() -> bool:
        found[:] = [c for c in children(proc.pid)
                    if b"qemu-riscv64" in (Path("/proc") / str(c) / "cmdline").read_bytes()]
        return bool(found) or proc.poll() is not None

    assert wait_for(started, 120) and found, "the run never started qemu"
    return found[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_interrupted_run_leaves_no_runner_and_no_directory(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "rcnn.run", "-r", "500", "--no-build", "-q", "-o", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        qemu = _qemu_child(proc)
        time.sleep(0.5)  # inside inference
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        assert wait_for(lambda: not alive(qemu), 10), f"qemu {qemu} outlived rcnn.run after {sig.name}"
        # A SIGKILLed run's hidden directory is removed by its watchdog, a moment later.
        assert wait_for(lambda: not any(out.iterdir()), 10), list(out.iterdir())
        time.sleep(1.5)  # an orphan that finished now would re-create the directory
        assert list(out.iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
    expected = {signal.SIGINT: 130, signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGKILL: -signal.SIGKILL}[sig]
    assert code == expected, proc.stderr.read() if proc.stderr else ""


# ------------------------------------------------------------------------------------------ 2. external data


def _leaky_model(folder: Path, location: str, nbytes: int = 16) -> Path:
    """y = W, where W's data is external at `location`: whatever W reads comes back as the output."""
    folder.mkdir(parents=True, exist_ok=True)
    w = TensorProto(name="W", data_type=TensorProto.UINT8, dims=[nbytes])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    w.external_data.add(key="length", value=str(nbytes))
    graph = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "leak", [],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [nbytes])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    f = tmp_path / "secret.bin"
    f.write_bytes(b"TOP-SECRET-BYTES" * 4)
    return f


@pytest.mark.parametrize("native", [False, True], ids=["qemu", "native"])
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path: Path, secret: Path, how: str,
                                                           native: bool) -> None:
    folder = tmp_path / "m"
    if how == "symlink":
        folder.mkdir()
        (folder / "w.bin").symlink_to(secret)
        model, phrase = _leaky_model(folder, "w.bin"), "resolves outside the model's folder"
    elif how == "absolute":
        model, phrase = _leaky_model(folder, str(secret)), "has an absolute location"
    else:
        model, phrase = _leaky_model(folder, "../secret.bin"), "leaves the model's folder"
    out = tmp_path / "runs"
    r = _rcnn("rcnn.run", "-m", model, "-o", out, "--no-build", *(["--native"] if native else []), cwd=tmp_path)
    _one_line_error(r, "rcnn.run", REFUSED, "tensor 'W'", phrase)
    assert "TOP-SECRET" not in r.stdout + r.stderr
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("native", [False, True], ids=["qemu", "native"])
def test_ort_test_refuses_external_data_outside_the_folder_by_itself(tmp_path: Path, secret: Path,
                                                                     native: bool) -> None:
    model = _leaky_model(tmp_path / "m", "../secret.bin")
    runner = ([str(paths.host_binary())] if native else
              ["qemu-riscv64", "-L", str(paths.sysroot()), str(paths.riscv64_binary())])
    r = subprocess.run([*runner, "-m", str(model), "-o", str(tmp_path / "out")], capture_output=True, text=True,
                       timeout=300, env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})
    assert r.returncode == REFUSED, r.stderr[-2000:]
    assert "ort_test: error:" in r.stderr and "leaves the model's folder" in r.stderr
    assert "TOP-SECRET" not in r.stdout and not (tmp_path / "out").exists()


def test_external_data_inside_the_folder_still_runs(tmp_path: Path) -> None:
    model = _leaky_model(tmp_path / "m", "sub/w.bin")
    (tmp_path / "m" / "sub").mkdir()
    (tmp_path / "m" / "sub" / "w.bin").write_bytes(bytes(range(16)))
    r = _rcnn("rcnn.run", "-m", model, "-o", tmp_path / "runs", "--no-build", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    y, _ = load_tensor(next((tmp_path / "runs").iterdir()) / "output_0.pb")
    assert y.tolist() == list(range(16))


# ---------------------------------------------------------------------------- 3. external weights, accelerated


def _int8_external(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    testnets.int8_convnet(folder / "tmp.onnx", size=16)
    model = onnx.load(str(folder / "tmp.onnx"))
    (folder / "tmp.onnx").unlink()
    onnx.save(model, str(folder / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=64)
    assert any(t.data_location == TensorProto.EXTERNAL for t in onnx.load(str(folder / "model.onnx"),
                                                                          load_external_data=False).graph.initializer)
    return folder / "model.onnx"


@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_external_weights_reach_the_accelerator_from_any_folder(tmp_path: Path, native: bool) -> None:
    """The EP sees the weights ONNX Runtime loaded from the model's folder, whatever the working directory."""
    model = _int8_external(tmp_path / "model")
    x = random_input(tmp_path / "x.pb", (1, 3, 16, 16))
    outs = []
    for k, cwd in enumerate([tmp_path / "elsewhere", tmp_path]):
        cwd.mkdir(exist_ok=True)
        flags = ["--native"] if native else []
        r = _rcnn("rcnn.run", "-m", model, "--input", x, "-o", f"runs{k}", "--partition", "on", "--no-build",
                  *flags, cwd=cwd)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "100.0 % of MACs" in r.stdout, r.stdout
        outs.append(load_tensor(next((cwd / f"runs{k}").iterdir()) / "output_1.pb")[0])
    assert np.array_equal(outs[0], outs[1])
    # Without the EP, ORT's CPU EP on the same weights: the accelerator's convs are bit-exact to it.
    r = _rcnn("rcnn.run", "-m", model, "--input", x, "-o", "cpu", "--partition", "off", "--native", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert np.array_equal(load_tensor(next((tmp_path / "cpu").iterdir()) / "output_1.pb")[0], outs[0])


# ---------------------------------------------------------------------------------------- 4. 16-bit PNGs


def _png16_grey(path: Path, seed: int = 0) -> Path:
    from PIL import Image

    values = np.random.default_rng(seed).integers(0, 65536, (12, 20)).astype(np.uint16)
    Image.fromarray(values).save(path)
    return path


@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_16_bit_grey_png_decodes_like_ort_test(tmp_path: Path, native: bool) -> None:
    png = _png16_grey(tmp_path / "g16.png")
    python = image_to_tensor(png, "none", [1, 3, 12, 20])
    assert np.count_nonzero(python < 255) / python.size * 100 > 20  # not clipped to white
    model = testnets.identity_net(tmp_path / "id.onnx", [1, 3, 12, 20])
    runner = ([str(paths.host_binary())] if native else
              ["qemu-riscv64", "-L", str(paths.sysroot()), str(paths.riscv64_binary())])
    r = subprocess.run([*runner, "-m", str(model), "-i", str(png), "-p", "none", "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})
    assert r.returncode == 0, r.stderr
    cpp, _ = load_tensor(tmp_path / "out" / "output_0.pb")
    assert np.array_equal(cpp, python)


# --------------------------------------------------------------------------------------- 5. one-line errors


def test_initializer_whose_dims_lie_is_refused(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.arange(5, dtype=np.float32), "W")
    w.dims[:] = [2, 3]  # 24 bytes declared, 20 held
    graph = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "lie", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "lie.onnx").write_bytes(model.SerializeToString())
    for native in ([], ["--native"]):
        r = _rcnn("rcnn.run", "-m", tmp_path / "lie.onnx", "--no-build", *native, cwd=tmp_path)
        _one_line_error(r, "rcnn.run", REFUSED,
                        "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 20 bytes")


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says width x height over a tiny IDAT: a decompression bomb's shape, in 100 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, native: bool) -> None:
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)
    model = testnets.identity_net(tmp_path / "id.onnx", [1, 3, "h", "w"], preprocess="none")
    r = _rcnn("rcnn.run", "-m", model, "-i", bomb, "--no-build", *(["--native"] if native else []), cwd=tmp_path)
    _one_line_error(r, "rcnn.run", REFUSED, "is 20000x20000 (400000000 pixels), over the limit of 100000000",
                    "RCNN_MAX_IMAGE_PIXELS")
    runner = ([str(paths.host_binary())] if native else
              ["qemu-riscv64", "-L", str(paths.sysroot()), str(paths.riscv64_binary())])
    r = subprocess.run([*runner, "-m", str(model), "-i", str(bomb), "-p", "none"], capture_output=True, text=True,
                       timeout=300, env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})
    assert r.returncode == REFUSED and "over the limit of 100000000 (RCNN_MAX_IMAGE_PIXELS)" in r.stderr, r.stderr
    # The limit is the user's to raise: past it, the image is decoded (and found corrupt, one line, no traceback).
    r = _rcnn("rcnn.run", "-m", model, "-i", bomb, "--native", cwd=tmp_path,
              env=_env(RCNN_MAX_IMAGE_PIXELS=str(10**9)))
    _one_line_error(r, "rcnn.run", 1, "cannot read image")


def test_huge_declared_input_fed_an_image_is_refused(tmp_path: Path, image: Path) -> None:
    model = testnets.identity_net(tmp_path / "huge.onnx", [1, 3, 2**40, 1], preprocess="none")
    for native in ([], ["--native"]):
        r = _rcnn("rcnn.run", "-m", model, "-i", image, "--no-build", *native, cwd=tmp_path)
        _one_line_error(r, "rcnn.run", REFUSED, f"model input 'x' wants a 3x{2**40}x1 float tensor",
                        "RCNN_MAX_TENSOR_BYTES")


def test_npy_promising_more_than_it_holds_is_refused(tmp_path: Path) -> None:
    model = testnets.identity_net(tmp_path / "id.onnx", [1, 3, 4, 4])
    f = tmp_path / "x.npy"
    np.save(f, np.zeros((1, 3, 4, 4), np.float32))
    f.write_bytes(f.read_bytes().replace(b"(1, 3, 4, 4)", b"(9999999, 3)", 1))  # same header length
    r = _rcnn("rcnn.run", "-m", model, "--input", f, "--native", cwd=tmp_path)
    _one_line_error(r, "rcnn.run", REFUSED, "declares 119999988 bytes but holds 192")


# ------------------------------------------------------------------------------------------ 6. --timeout nan


@pytest.mark.parametrize("module", ["rcnn.run", "rcnn.eval", "rcnn.compare"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_timeout_must_be_finite_and_positive(tmp_path: Path, module: str, value: str) -> None:
    r = _rcnn(module, "--timeout", value, cwd=tmp_path)
    _one_line_error(r, module, 2, "--timeout", "finite number of seconds > 0")


# --------------------------------------------------------------------------------- 7. inputs without a shape


def _shapeless_model(path: Path) -> Path:
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "shapeless",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert not model.graph.input[0].type.tensor_type.HasField("shape")
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_input_without_declared_shape_takes_any_tensor(tmp_path: Path, image: Path, native: bool) -> None:
    model = _shapeless_model(tmp_path / "shapeless.onnx")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "x.npy", x)
    flags = ["--native"] if native else ["--no-build"]
    r = _rcnn("rcnn.run", "-m", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "a", *flags, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert np.array_equal(load_tensor(next((tmp_path / "a").iterdir()) / "output_0.pb")[0], x)
    # An image fills it as a batch of one [1,3,H,W], on both sides alike.
    r = _rcnn("rcnn.run", "-m", model, "-i", image, "-p", "none", "-o", tmp_path / "b", *flags, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    y = load_tensor(next((tmp_path / "b").iterdir()) / "output_0.pb")[0]
    assert np.array_equal(y, image_to_tensor(image, "none", None))


# -------------------------------------------------------------------------------------------------- 8. smaller


def test_float_model_hint_names_a_flag_rcnn_run_has(tmp_path: Path, models: dict[str, Path]) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 16, 16))
    r = _rcnn("rcnn.run", "-m", models["fp32"], "--input", x, "--native", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("== placement: none"))
    assert "--elem" not in line and "--systolic-config" in line
    r = _rcnn("rcnn.run", "-m", models["fp32"], "--input", x, "--native", "--partition", "on", cwd=tmp_path)
    _one_line_error(r, "rcnn.run", 1, "the Systolic EP placed no node", "--systolic-config")
    assert "--elem" not in r.stderr


def test_truncated_runner_binary_is_named_with_the_fix(tmp_path: Path, models: dict[str, Path]) -> None:
    build = tmp_path / "build"
    runner = paths.riscv64_binary()
    for src in (runner, paths.riscv64_ep_library()):
        dst = build / src.relative_to(paths.build_dir())
        dst.parent.mkdir(parents=True)
        shutil.copy2(src, dst)
    short = build / runner.relative_to(paths.build_dir())
    short.write_bytes(short.read_bytes()[: short.stat().st_size // 2])
    x = random_input(tmp_path / "x.pb", (1, 3, 32, 32))
    r = _rcnn("rcnn.run", "-m", models["int8"], "--input", x, "--no-build", cwd=tmp_path,
              env=_env(RCNN_BUILD_DIR=str(build), RCNN_SYSROOT=str(paths.sysroot())))
    _one_line_error(r, "rcnn.run", 1, f"the riscv64 ort_test {short} is truncated", "rebuild it: rm ")
    assert "SIGBUS" not in r.stderr


def test_cli_tools_keep_working_after_these_checks(tmp_path: Path) -> None:
    """The gate must not refuse the project's own models: the demo runs natively with the limits at default."""
    r = run_cli("rcnn.run", "--native", "-o", tmp_path / "runs", cwd=ROOT)
    assert r.returncode == 0 and "detection(s)" in r.stdout, r.stderr[-2000:]
    x = np.zeros((1, 3, 4, 4), np.float32)
    save_tensor(x, tmp_path / "x.pb", "x")
    assert np.array_equal(load_tensor(tmp_path / "x.pb")[0], x)
