"""Make sure the runner binaries exist: build what is missing, or say the exact command that will."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rcnn import paths
from rcnn.errors import RcnnError
from rcnn.runtime.elf import elf_problem


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


def check_binary(path: Path, what: str, fix: str) -> Path:
    """`path` when it is a complete ELF file, else a one-line RcnnError that says how to rebuild it."""
    problem = elf_problem(path)
    if problem is not None:
        raise RcnnError(f"the {what} {path} is {problem}; rebuild it: {fix}")
    return path


def ensure_riscv64_runner(build: bool = True) -> Path:
    """The riscv64 ort_test, (re)built incrementally from the source tree when there is one."""
    return _ensure_riscv64("ort_test", paths.riscv64_binary(), build)


def ensure_riscv64_ep_library(build: bool = True) -> Path:
    """The riscv64 Systolic plugin EP library, (re)built incrementally like the runner."""
    return _ensure_riscv64("rcnn_systolic_ep", paths.riscv64_ep_library(), build)


def _ensure_riscv64(target: str, binary: Path, build: bool) -> Path:
    sysroot, root = paths.sysroot(), paths.source_root()
    setup_hint = f"{root}/setup.sh" if root else "setup.sh from the source tree"
    if not (sysroot / "usr" / "include" / "onnxruntime").is_dir():
        raise RcnnError(f"no riscv64 sysroot at {sysroot}: run {setup_hint} (or toolchain/build-sysroot.sh)")
    if shutil.which("qemu-riscv64") is None:
        raise RcnnError(f"qemu-riscv64 not found: run {setup_hint} (or toolchain/install-host-tools.sh)")
    if build and root is not None:
        build_tree = paths.riscv64_build_dir()
        if not (build_tree / "CMakeCache.txt").is_file():
            _run(_configure_command(root, build_tree))
        _run(["cmake", "--build", str(build_tree), "--target", target, "-j2"])
    if not binary.is_file():
        hint = setup_hint
        if root is not None:
            tree = paths.riscv64_build_dir()
            steps = [_configure_command(root, tree), ["cmake", "--build", str(tree)]]
            hint = " && ".join(" ".join(c) for c in steps)
        raise RcnnError(f"riscv64 {binary.name} not built: {hint}")
    fix = f"rm {binary} && cmake --build {paths.riscv64_build_dir()}" if root is not None else setup_hint
    return check_binary(binary, f"riscv64 {binary.name}", fix)


def ensure_host_runner() -> Path:
    return _ensure_host(paths.host_binary(), "host ort_test")


def ensure_device() -> Path:
    """rcnn_device, the native device process of device mode (a host program for either target)."""
    return _ensure_host(paths.host_binary("rcnn_device"), "rcnn_device (the device process)")


def ensure_host_ep_library() -> Path:
    return _ensure_host(paths.host_ep_library(), "host Systolic plugin EP library")


def _ensure_host(found: Path | None, what: str) -> Path:
    if found is None:
        root = paths.source_root()
        raise RcnnError(f"{what} not built: run pip install -e {root or '.'} (setup.sh does it)")
    root = paths.source_root()
    return check_binary(found, what, f"pip install -e {root or '.'} (setup.sh does it)")
