"""Fresh, atomically published run directories: work happens in a hidden temp dir renamed into place at the end."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fresh_run_dir(parent: Path, label: str) -> Iterator[list[Path]]:
    """Yields [tmp_dir]; on success the list's single entry becomes the published directory, on error it is removed."""
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=parent))
    holder = [tmp]
    try:
        yield holder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final, n = parent / stem, 1
    while final.exists():
        n += 1
        final = parent / f"{stem}-{n}"
    tmp.chmod(0o755)  # mkdtemp makes it 0700
    tmp.rename(final)
    holder[0] = final
