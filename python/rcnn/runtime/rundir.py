"""Fresh, atomically published run directories: work happens in a hidden temp dir renamed into place at the end.

Whatever ends the work, no half-written directory stays behind: an exception (Ctrl-C, SIGTERM raised as
rcnn.cli.Terminated) removes it in the `except`, and a SIGKILL, which no Python code survives, is covered by a
watchdog: a small shell process that waits for this process's end (its stdin pipe closes) and then removes the
hidden directory if it still exists. After a successful rename there is nothing left for it to remove.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# EOF on stdin = the owner is gone. The second removal, a second later, catches a runner that was still being killed
# (the kernel closes the owner's files before it signals the children that die with it).
_WATCHDOG = 'cat >/dev/null; if [ -e "$1" ]; then rm -rf -- "$1"; sleep 1; rm -rf -- "$1"; fi'


def _start_watchdog(tmp: Path) -> subprocess.Popen[bytes]:
    # Its own session: a Ctrl-C on the terminal must not kill the watchdog before the owner has cleaned up.
    return subprocess.Popen(["sh", "-c", _WATCHDOG, "rcnn-rundir-watchdog", str(tmp)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stop_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    assert watchdog.stdin is not None
    watchdog.stdin.close()
    watchdog.wait()


@contextmanager
def fresh_run_dir(parent: Path, label: str) -> Iterator[list[Path]]:
    """Yields [tmp_dir]; on success the list's single entry becomes the published directory, on error it is removed."""
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=parent))
    holder = [tmp]
    watchdog = _start_watchdog(tmp)
    try:
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
    finally:
        _stop_watchdog(watchdog)
