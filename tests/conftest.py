"""Shared fixtures: small models built with onnx.helper, and helpers that run the CLIs as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rcnn.models import testnets
from rcnn.runtime.tensors import save_tensor

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    return {
        "fp32": testnets.fp32_convnet(d / "fp32.onnx"),
        "int8": testnets.int8_convnet(d / "int8.onnx"),
    }


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return testnets.demo_image(tmp_path_factory.mktemp("images") / "shapes.png", size=40, seed=3)


def random_input(path: Path, shape: tuple[int, ...], name: str = "x", seed: int = 0) -> Path:
    save_tensor(np.random.default_rng(seed).random(shape, dtype=np.float32), path, name)
    return path


def run_cli(module: str, *args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """python -m <module> args..., as a user types it; output captured."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def systolic() -> Any:
    """The rcnn.systolic facade with the host's plugin EP registered (a failure, not a skip, when it is not built)."""
    from rcnn import paths

    path = paths.host_ep_library()
    if path is None or not path.is_file():
        pytest.fail("librcnn_systolic_ep.so is not built: run ./setup.sh (or set RCNN_EP_LIB)")
    import rcnn.systolic

    rcnn.systolic.register()
    return rcnn.systolic


def riscv64_ort_version() -> str:
    """The ONNX Runtime version the riscv64 sysroot holds, from its lock (the one place that pins it): what a
    run under qemu must report."""
    lock = (ROOT / "toolchain" / "sysroot.lock").read_text()
    m = re.search(r"^libonnxruntime[0-9.]+=([0-9.]+)", lock, re.M)
    assert m, "toolchain/sysroot.lock pins no libonnxruntime"
    return m.group(1)


def only_run_dir(parent: Path) -> Path:
    dirs = [p for p in parent.iterdir()]
    assert len(dirs) == 1, f"expected one run directory in {parent}, found {dirs}"
    return dirs[0]


# ---- processes (for the tests of interrupted runs: what a run started, and whether it is gone) ----------------------


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        text = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
