"""The C++ unit tests (ctest): riscv64 build under qemu, and the host build under ASan/UBSan."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rcnn import paths

from conftest import ROOT


def _ctest(build: Path, configure: list[str]) -> str:
    if not (build / "CMakeCache.txt").is_file():
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *gen, *configure], check=True,
                       capture_output=True, text=True)
    b = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True, text=True)
    assert b.returncode == 0, b.stdout[-4000:] + b.stderr[-4000:]
    r = subprocess.run(["ctest", "--output-on-failure", "--test-dir", str(build)], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "100% tests passed" in r.stdout
    return r.stdout


def test_ctest_riscv64_under_qemu() -> None:
    out = _ctest(paths.riscv64_build_dir(), ["--toolchain", str(ROOT / "toolchain" / "riscv64.cmake"),
                                             f"-DRCNN_SYSROOT={paths.sysroot()}"])
    assert "Test #" in out


def test_ctest_host_asan_ubsan() -> None:
    out = _ctest(paths.build_dir() / "host-asan", ["-DRCNN_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                                                   f"-DRCNN_SYSROOT={paths.sysroot()}"])
    assert "Test #" in out
