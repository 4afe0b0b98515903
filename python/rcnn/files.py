"""Writing files so that a reader never sees half of one: a temp name in the same directory, then a rename."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomically(path: Path, fill: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        fill(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; the result should look like any written file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes) -> None:
    _atomically(Path(path), lambda tmp: Path(tmp).write_bytes(data))


def atomic_copy(src: str | Path, dst: str | Path) -> None:
    _atomically(Path(dst), lambda tmp: shutil.copyfile(src, tmp))


def cached_folder(cache: Path, digest: str, fill: Callable[[Path], None]) -> Path:
    """cache/digest, made once by `fill(folder)` into a temp folder renamed into place (a half-filled folder is never
    seen; when two processes race, the first rename wins and the other's copy is dropped)."""
    final = cache / digest
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=cache))
    try:
        fill(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def user_cache_dir() -> Path:
    """This user's cache of the project (XDG_CACHE_HOME/rcnn): unpacked bundles, shipped models."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rcnn"


def file_label(label: str) -> str:
    """`label` as a file name: runs of characters other than letters, digits, '.', '-' and '_' become one '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip(".") or "_"


def fresh_dir(parent: Path, label: str) -> Path:
    """A new directory parent/STAMP-label (STAMP-label-2, ... when taken)."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{file_label(label)}"
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for {parent / stem}")
