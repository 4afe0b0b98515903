"""Synthetic instance-segmentation data: circles, squares and triangles on textured backgrounds, with masks.

Seeded and reproducible: sample i of split seed S is drawn from numpy's default_rng([S, i]), so any sample can be
regenerated on its own. Later shapes occlude earlier ones (their masks are subtracted); an instance left with fewer
than MIN_AREA pixels is dropped. Boxes are the tight boxes of the visible masks (x1, y1, x2, y2, exclusive ends).

`python -m rcnn.shapes --out DIR --count N --seed S` writes a COCO-format folder (DIR/annotations.json with RLE
segmentations, DIR/images/NNNNN.png) that rcnn.eval and pycocotools read like any COCO folder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.models.synthetic import CALIB_SEED, DEMO_SEED, TRAIN_SEED, VAL_SEED, write_coco_folder


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.shapes", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder to write (images/ and annotations.json)")
    p.add_argument("--count", type=int, default=50, help="number of images")
    p.add_argument("--seed", type=int, default=VAL_SEED,
                   help=f"split seed (train {TRAIN_SEED}, validation {VAL_SEED}, calibration {CALIB_SEED}, "
                        f"demo {DEMO_SEED})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be >= 1")
    ann = write_coco_folder(a.out, a.count, a.seed, progress=not a.quiet)
    print(f"wrote {a.count} image(s) and {ann}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.shapes", main))
