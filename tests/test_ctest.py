"""The C++ unit tests (ctest): riscv64 build under qemu, the host build under ASan/UBSan, and the tests that run
threads under ThreadSanitizer. Every build configured here treats warnings as errors (RCNN_WERROR)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from rcnn import paths

from conftest import ROOT

# Targets of the ctest label "threads" (tests/cpp/CMakeLists.txt, tests/cpp/systolic/CMakeLists.txt,
# tests/cpp/device/CMakeLists.txt): building only these keeps the ThreadSanitizer tree to the accelerator model, the
# plugin EP, ort_test, and the device launcher with its end-to-end guest.
THREAD_TEST_TARGETS = ["systolic_test_matmul", "systolic_test_conv", "systolic_test_resadd",
                       "systolic_test_quant_forms", "systolic_test_quantize", "ort_test", "rcnn_systolic_ep",
                       "rcnn_device", "test_device_e2e"]


def _ctest(build: Path, configure: list[str], targets: list[str] | None = None, label: str | None = None,
           env: dict[str, str] | None = None) -> str:
    # Configured every time (quick when nothing changed), so a tree made before an option existed gets it too.
    gen = ["-G", "Ninja"] if shutil.which("ninja") and not (build / "CMakeCache.txt").is_file() else []
    c = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *gen, "-DRCNN_WERROR=ON", *configure],
                       capture_output=True, text=True)
    assert c.returncode == 0, c.stdout[-4000:] + c.stderr[-4000:]
    b = subprocess.run(["cmake", "--build", str(build), "-j2", *(["--target", *targets] if targets else [])],
                       capture_output=True, text=True)
    assert b.returncode == 0, b.stdout[-4000:] + b.stderr[-4000:]
    jobs = str(os.cpu_count() or 2)  # the tests are independent processes (unique shm names, temp dirs)
    r = subprocess.run(["ctest", "--output-on-failure", "-j", jobs, "--test-dir", str(build),
                        *(["-L", label] if label else [])],
                       capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "100% tests passed" in r.stdout
    return r.stdout


def test_ctest_riscv64_under_qemu() -> None:
    out = _ctest(paths.riscv64_build_dir(), ["--toolchain", str(ROOT / "toolchain" / "riscv64.cmake"),
                                             f"-DRCNN_SYSROOT={paths.sysroot()}"])
    assert "Test #" in out


# The sanitizer trees are built from scratch on every fresh clone: -O1 (what ASan's authors recommend) and line
# tables only (-g1, enough for the sanitizers' stack traces) halve their build time against -O2 -g.
SANITIZER_FLAGS = ["-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG",
                   "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"]


def test_ctest_host_asan_ubsan() -> None:
    out = _ctest(paths.build_dir() / "host-asan", ["-DRCNN_SANITIZE=ON", *SANITIZER_FLAGS,
                                                   f"-DRCNN_SYSROOT={paths.sysroot()}"])
    assert "Test #" in out


def test_ctest_host_tsan() -> None:
    """The accelerator's multi-threaded op tests (ThreadPool) and ort_test running the Systolic EP's compiled nodes
    on 2 and 3 threads, under ThreadSanitizer: any data race fails the test (exit code 66, the report in the
    output)."""
    out = _ctest(paths.build_dir() / "host-tsan", ["-DRCNN_SANITIZE=thread", *SANITIZER_FLAGS,
                                                   f"-DRCNN_SYSROOT={paths.sysroot()}"],
                 targets=THREAD_TEST_TARGETS, label="threads", env={"TSAN_OPTIONS": "halt_on_error=1"})
    assert "Test #" in out and "ThreadSanitizer" not in out
