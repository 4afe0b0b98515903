"""Device mode (issue 10): under qemu, the EP's -x 1/-x 2 ops run in rcnn_device, the native device process that
rcnn.run starts ort_test under. Outputs and counters equal the in-guest run and the native one; a dead device or a
killed run ends with one line and leaves no process and no shared-memory file behind; runs side by side stay apart.
The device's own protocol checks (hostile commands under ASan, random ops in every mode) are ctests (device_*)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from rcnn.models.testnets import quantize_qoperator, resnet_float
from rcnn.runtime.runner import read_outputs

from conftest import alive, children, only_run_dir, random_input, run_cli, wait_for


@pytest.fixture(scope="module")
def resnet_int8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("device") / "resnet_int8.onnx"
    onnx.save(quantize_qoperator(resnet_float(size=64, widths=(16, 32))), str(path))
    return path


def _shm_files() -> set[Path]:
    return set(Path("/dev/shm").glob("rcnn-device-*"))


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _start_long_run(model: Path, x: Path, out: Path, cwd: Path) -> tuple[subprocess.Popen[str], int, int]:
    """rcnn.run in device mode with many inferences; returns it, its rcnn_device and the qemu under that, once the
    guest is inside inference."""
    proc = subprocess.Popen([sys.executable, "-m", "rcnn.run", "-m", str(model), "--input", str(x), "-x", "2",
                             "--device", "host", "-r", "100000", "-q", "--no-build", "-o", str(out)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found: dict[str, int] = {}

    def started() -> bool:
        for c in children(proc.pid):
            if b"rcnn_device" in _cmdline(c):
                found["device"] = c
                for g in children(c):
                    if b"qemu-riscv64" in _cmdline(g):
                        found["qemu"] = g
        return "qemu" in found or proc.poll() is not None

    assert wait_for(started, 120) and "qemu" in found, "the run never started rcnn_device and qemu"
    time.sleep(6)  # session creation under qemu, then inside the inference loop
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    return proc, found["device"], found["qemu"]


@pytest.mark.parametrize("mode", ["1", "2"])
def test_host_device_equals_guest_and_native(resnet_int8: Path, tmp_path: Path, mode: str) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=5)
    runs = {}
    for label, flags in {"guest": ["--device", "guest"], "host": ["--device", "host"],
                         "native": ["--native"]}.items():
        r = run_cli("rcnn.run", "-m", resnet_int8, "--input", x, "-x", mode, "-o", tmp_path / label, *flags,
                    cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        where = {"guest": "in the emulated RISC-V guest", "host": "in the native device process",
                 "native": "native, in ort_test's process"}[label]
        assert f"arithmetic {where})" in r.stdout, r.stdout
        runs[label] = read_outputs(only_run_dir(tmp_path / label))
    report, outs = runs["host"]
    assert report["systolic_ep"]["arithmetic"].startswith("device process ")
    for label in ("guest", "native"):
        other_report, other = runs[label]
        assert other_report["systolic_ep"]["arithmetic"] == "in-process"
        assert other_report["systolic_ep"]["ops"] == report["systolic_ep"]["ops"]  # every counter of every op
        for name in outs:
            np.testing.assert_array_equal(other[name], outs[name], err_msg=f"{label} {name}")
    assert report["systolic_ep"]["total"]["tiles"] > 0 and np.abs(outs["logits"]).max() > 0


def test_cpu_mode_stays_in_the_guest(resnet_int8: Path, tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=6)
    r = run_cli("rcnn.run", "-m", resnet_int8, "--input", x, "-x", "0", "--device", "host", "-o", tmp_path / "r",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "arithmetic in the emulated RISC-V guest" in r.stdout
    command = json.loads((only_run_dir(tmp_path / "r") / "run.json").read_text())["command"]
    assert not any("rcnn_device" in part for part in command), command  # no device process started


def test_killed_device_ends_the_run_with_one_line(resnet_int8: Path, tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=7)
    before = _shm_files()
    proc, device, qemu = _start_long_run(resnet_int8, x, tmp_path / "runs", tmp_path)
    os.kill(device, signal.SIGKILL)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1 and elapsed < 10, (proc.returncode, elapsed, err[-2000:])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rcnn.run: error: ") and "device" in lines[0], err[-2000:]
    assert wait_for(lambda: not alive(qemu), 10), "qemu outlived its device"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no half-written run
    assert _shm_files() == before


def test_killed_run_leaves_no_device_behind(resnet_int8: Path, tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=8)
    before = _shm_files()
    proc, device, qemu = _start_long_run(resnet_int8, x, tmp_path / "runs", tmp_path)
    proc.kill()  # SIGKILL: no finally runs; the kernel's parent-death signals must do it
    proc.wait()
    assert wait_for(lambda: not alive(device), 10), "rcnn_device outlived the killed run"
    assert wait_for(lambda: not alive(qemu), 15), "qemu outlived the killed run"
    assert _shm_files() == before


def test_four_concurrent_runs_stay_apart(resnet_int8: Path, tmp_path: Path) -> None:
    inputs = [random_input(tmp_path / f"x{k}.pb", (1, 3, 64, 64), seed=20 + k) for k in range(4)]
    procs = [subprocess.Popen([sys.executable, "-m", "rcnn.run", "-m", str(resnet_int8), "--input", str(x), "-x", "2",
                               "--device", "host", "-q", "--no-build", "-o", str(tmp_path / f"dev{k}")],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, x in enumerate(inputs)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    for k, x in enumerate(inputs):
        r = run_cli("rcnn.run", "-m", resnet_int8, "--input", x, "-x", "2", "--native", "-q", "-o",
                    tmp_path / f"native{k}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        want = read_outputs(only_run_dir(tmp_path / f"native{k}"))[1]
        got = read_outputs(only_run_dir(tmp_path / f"dev{k}"))[1]
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"run {k} {name}")
