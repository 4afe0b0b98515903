"""What every rcnn command-line tool shares: one-line errors with a non-zero exit, argparse formatting."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from rcnn.errors import RcnnError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every flag's default and keeps the description's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # A required flag has no default, and a help text that explains its default ("default: the demo model")
        # says more than "(default: None)".
        text = action.help or ""
        if action.required or action.default is None or "default" in text.lower():
            return text
        return super()._get_help_string(action)


class UsageError(RcnnError):
    """A bad command line (exit status 2, as argparse would)."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C so that every `finally` (kill the runner, drop the hidden run
    directory) runs; Python's default for these signals is to die on the spot and leave both behind."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (`rcnn.X: error: ...`, exit 2) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def strict_bool(text: str) -> bool:
    """true/1/yes or false/0/no in any case; the reference silently took any other string (a typo) as False."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false/1/0/yes/no, got {text!r}")


def positive_seconds(text: str) -> float:
    """A timeout: a finite number > 0 (float() also takes "nan" and "inf", which would disable it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text!r}")
        return value

    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """SIGTERM/SIGHUP raise Terminated while the CLI runs (main thread only: signal handlers live there)."""
    signums = (signal.SIGTERM, signal.SIGHUP)
    try:
        previous = {s: signal.signal(s, _raise_terminated) for s in signums}
    except ValueError:  # not the main thread: leave the handlers alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_cli(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """main(argv) with one-line errors. Exit status: 0 ok, 1 error, 2 bad command line, 3 input refused
    (rcnn.onnxgraph.gate: unsafe or over a limit), 130 Ctrl-C, 128 + N after signal N (SIGTERM, SIGHUP)."""
    try:
        with _terminate_as_exception():
            return main(argv)
    except RcnnError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # an unwritable output, a file where a folder should be, a full disk, ...
        where = f": {e.filename}" if e.filename else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated as e:
        print(f"{prog}: terminated ({e})", file=sys.stderr)
        return 128 + e.signum
