"""What every rcnn command-line tool shares: one-line errors with a non-zero exit, argparse formatting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rcnn.errors import RcnnError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every flag's default and keeps the description's line breaks."""


def run_cli(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    try:
        return main(argv)
    except RcnnError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
