"""The programs a run needs, packed to travel to machines that have no build of their own (Ray workers on other
nodes): ort_test, the Systolic plugin EP library, the device process and, for the riscv64 target, the share of the
sysroot that ort_test loads under qemu-riscv64. One deterministic tar archive named by its sha256; a machine unpacks
it once into its cache (rcnn.files.user_cache_dir()/bundles/DIGEST) and runs from there.

What a node must have of its own: Python with this package's dependencies, and qemu-riscv64 for the riscv64 target
(as it must have Ray itself).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from rcnn import paths
from rcnn.errors import RcnnError
from rcnn.files import cached_folder, user_cache_dir
from rcnn.runtime import build
from rcnn.runtime.elf import dynamic_needs, interpreter

# Where the riscv64 loader looks, relative to the sysroot (Debian's multiarch dirs first).
_GUEST_LIB_DIRS = ("usr/lib/riscv64-linux-gnu", "usr/lib")
# Libraries ORT opens by name at run time (dlopen), which no DT_NEEDED names: packed when the sysroot has them.
_GUEST_DLOPENED = ("libonnxruntime_providers_shared.so",)


@dataclass(frozen=True)
class RunnerFiles:
    """The programs of one target: what rcnn.runtime.runner starts."""

    ort_test: Path
    ep_lib: Path
    device: Path | None = None  # rcnn_device, the device process (device mode)
    sysroot: Path | None = None  # qemu-riscv64 -L; None for the native target


@dataclass(frozen=True)
class Bundle:
    """RunnerFiles packed: `archive` is a tar file, `digest` its sha256."""

    digest: str
    native: bool
    archive: bytes


def local_runner_files(native: bool, device: bool, build_it: bool = True) -> RunnerFiles:
    """This machine's build of the target's programs (the riscv64 ones rebuilt incrementally when `build_it`)."""
    if native:
        return RunnerFiles(build.ensure_host_runner(), build.ensure_host_ep_library(),
                           build.ensure_device() if device else None)
    return RunnerFiles(build.ensure_riscv64_runner(build_it), build.ensure_riscv64_ep_library(build_it),
                       build.ensure_device() if device else None, paths.sysroot())


def _origin_libraries(binary: Path) -> dict[str, Path]:
    """The libraries `binary` finds through its own RUNPATH ($ORIGIN/...), by soname."""
    needed, runpath = dynamic_needs(binary)
    found = {}
    for entry in runpath:
        folder = Path(entry.replace("$ORIGIN", str(binary.parent)).replace("${ORIGIN}", str(binary.parent)))
        for name in needed:
            if name not in found and (folder / name).is_file():
                found[name] = (folder / name).resolve()
    return found


def _guest_closure(roots: list[Path], sysroot: Path) -> dict[str, Path]:
    """Every shared library the riscv64 `roots` load from the sysroot, transitively: sysroot-relative path → file."""
    out: dict[str, Path] = {}
    pending = list(roots)
    seen: set[str] = set()
    opened = [n for n in _GUEST_DLOPENED if any((sysroot / d / n).exists() for d in _GUEST_LIB_DIRS)]
    while pending:
        needed, _ = dynamic_needs(pending.pop())
        for name in needed + opened:
            if name in seen:
                continue
            seen.add(name)
            where = next((d for d in _GUEST_LIB_DIRS if (sysroot / d / name).exists()), None)
            if where is None:
                raise RcnnError(f"{name} is not in the sysroot {sysroot}: rebuild it with setup.sh")
            real = (sysroot / where / name).resolve()
            out[f"{where}/{name}"] = real
            pending.append(real)
    return out


def _members(files: RunnerFiles) -> dict[str, Path]:
    """Archive path → file on this machine."""
    members = {"bin/ort_test": files.ort_test, "ep/" + files.ep_lib.name: files.ep_lib}
    if files.device is not None:
        members["bin/rcnn_device"] = files.device
    if files.sysroot is None:
        _, runpath = dynamic_needs(files.ort_test)
        libs = _origin_libraries(files.ort_test)
        if libs and "$ORIGIN/../lib" not in runpath:
            raise RcnnError(f"{files.ort_test} finds its libraries through {runpath}, not $ORIGIN/../lib: "
                            "bundle the pip-installed runner (pip install -e .)")
        members.update({f"lib/{name}": path for name, path in libs.items()})
    else:
        closure = _guest_closure([files.ort_test, files.ep_lib], files.sysroot)
        members.update({f"sysroot/{rel}": path for rel, path in closure.items()})
        loader = interpreter(files.ort_test)
        if loader:  # qemu opens it by this path (Debian's /lib is a link to usr/lib, kept in the archive)
            members[f"sysroot/{Path(loader.lstrip('/').replace('lib/', 'usr/lib/', 1))}"] = (
                files.sysroot / loader.lstrip("/")).resolve()
    return members


def pack(files: RunnerFiles) -> Bundle:
    """A deterministic tar archive of `files` (same build, same bytes, same digest)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(_members(files).items()):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
        if files.sysroot is not None:  # the program interpreter is /lib/ld-linux-...: Debian's /lib is usr/lib
            link = tarfile.TarInfo("sysroot/lib")
            link.type, link.linkname, link.mode, link.mtime = tarfile.SYMTYPE, "usr/lib", 0o777, 0
            tar.addfile(link)
    archive = buffer.getvalue()
    return Bundle(hashlib.sha256(archive).hexdigest(), files.sysroot is None, archive)


def _files_in(folder: Path, native: bool) -> RunnerFiles:
    ep = next((folder / "ep").iterdir())
    device = folder / "bin" / "rcnn_device"
    return RunnerFiles(folder / "bin" / "ort_test", ep, device if device.is_file() else None,
                       None if native else folder / "sysroot")


def unpack(bundle: Bundle, cache: Path | None = None) -> RunnerFiles:
    """The bundle's programs on this machine: unpacked once into cache/DIGEST (default the user's cache), reused
    after."""
    if hashlib.sha256(bundle.archive).hexdigest() != bundle.digest:
        raise RcnnError(f"bundle {bundle.digest[:12]} arrived damaged (its sha256 differs)")

    def fill(folder: Path) -> None:
        with tarfile.open(fileobj=io.BytesIO(bundle.archive)) as tar:
            tar.extractall(folder, filter="data")
        for f in folder.rglob("*"):
            if f.is_file() and not f.is_symlink():
                f.chmod(0o755)

    return _files_in(cached_folder(cache or user_cache_dir() / "bundles", bundle.digest, fill), bundle.native)
