"""What every rcnn command-line tool shares: one-line errors with a non-zero exit, argparse formatting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
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


def run_cli(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    try:
        return main(argv)
    except RcnnError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    except OSError as e:  # an unwritable output, a file where a folder should be, a full disk, ...
        where = f": {e.filename}" if e.filename else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
