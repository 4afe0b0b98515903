"""Writing files so that a reader never sees half of one: a temp name in the same directory, then a rename."""

from __future__ import annotations

import os
import shutil
import tempfile
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
