"""python -m rcnn.testnets: regenerate the small demo model and image shipped in rcnn/data (rcnn.models.testnets
builds them; the tests build their own models with the same functions)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.models.testnets import regenerate_demo_data


def build_parser() -> ArgumentParser:
    return ArgumentParser(prog="python -m rcnn.testnets", description=__doc__, formatter_class=HelpFormatter)


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    for path in regenerate_demo_data():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.testnets", main))
