"""Make sure the runner binaries exist: build what is missing, or say the exact command that will."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rcnn import paths
from rcnn.errors import RcnnError


def _configure_command(root: Path, build: Path) -> list[str]:
    cmd = ["cmake", "-S", str(root), "-B", str(build), f"-DRCNN_SYSROOT={paths.sysroot()}",
           "--toolchain", str(root / "toolchain" / "riscv64.cmake")]
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    return cmd


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        raise RcnnError(f"build step failed: {' '.join(cmd)}")


def ensure_riscv64_runner(build: bool = True) -> Path:
    """The riscv64 ort_test, (re)built incrementally from the source tree when there is one."""
    sysroot, binary, root = paths.sysroot(), paths.riscv64_binary(), paths.source_root()
    setup_hint = f"{root}/setup.sh" if root else "setup.sh from the source tree"
    if not (sysroot / "usr" / "include" / "onnxruntime").is_dir():
        raise RcnnError(f"no riscv64 sysroot at {sysroot}: run {setup_hint} (or toolchain/build-sysroot.sh)")
    if shutil.which("qemu-riscv64") is None:
        raise RcnnError(f"qemu-riscv64 not found: run {setup_hint} (or toolchain/install-host-tools.sh)")
    if build and root is not None:
        build_tree = paths.riscv64_build_dir()
        if not (build_tree / "CMakeCache.txt").is_file():
            _run(_configure_command(root, build_tree))
        _run(["cmake", "--build", str(build_tree), "--target", "ort_test", "-j2"])
    if not binary.is_file():
        hint = setup_hint
        if root is not None:
            tree = paths.riscv64_build_dir()
            steps = [_configure_command(root, tree), ["cmake", "--build", str(tree)]]
            hint = " && ".join(" ".join(c) for c in steps)
        raise RcnnError(f"riscv64 ort_test not built: {hint}")
    return binary


def ensure_host_runner() -> Path:
    binary = paths.host_binary()
    if binary is None:
        root = paths.source_root()
        raise RcnnError(f"host ort_test not built: run pip install -e {root or '.'} (setup.sh does it)")
    return binary
