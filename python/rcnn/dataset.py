"""python -m rcnn.dataset: build a calibration set (test_data_set_N/input_0.pb) from a folder of images.

Images are read in sorted file-name order; sample N is the N-th image. Each is resized and normalised with
rcnn.preprocess (the same arithmetic as `rcnn.run -p`). `-p none` writes raw 0..255 RGB floats, which
`rcnn.calibrate --data_preprocess=...` then normalises, as in the seed's flow.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.quant.dataset import list_images, target_dims, write_dataset
from rcnn.runtime.preprocess import preprocess_arg, preprocess_help


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.dataset", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--images", type=Path, required=True, help="folder of images (not searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="folder that receives test_data_set_N/input_0.pb")
    p.add_argument("-p", "--preprocess", type=preprocess_arg, required=True, metavar="SPEC",
                   help=preprocess_help("Required; -p none writes raw 0..255 RGB floats"))
    p.add_argument("--size", type=int, nargs="+", metavar="N",
                   help="target size: H W, or S for S x S; with --model it fills the input's free H/W and must "
                        "agree with fixed ones (default: the model's H/W, else each image's own size)")
    p.add_argument("--model", type=Path, default=None,
                   help="take the layout and H, W from this model's first input ([3,H,W] or [1,3,H,W])")
    p.add_argument("--multiple-of", type=int, default=0, metavar="N",
                   help="where H/W are free, round each image's size to the nearest multiple of N (a detector's "
                        "stride, e.g. 32) instead of keeping it as is (default: 0, no rounding)")
    p.add_argument("--mixed-sizes", action="store_true",
                   help="accept images that come out at different sizes under free H/W (default: refused, since "
                        "most such models still need one size to calibrate)")
    p.add_argument("--layout", choices=["chw", "nchw"], default="nchw",
                   help="tensor rank: chw = [3,H,W] (model-zoo Mask R-CNN), nchw = [1,3,H,W]; ignored with --model")
    p.add_argument("--name", default="x", help="tensor name stored in each .pb (calibration matches by position)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    images = list_images(a.images)
    dims, input_name = target_dims(a.size, a.model, a.layout)
    count = write_dataset(images, a.out, a.preprocess, dims, input_name or a.name, progress=not a.quiet,
                          multiple_of=a.multiple_of, mixed_sizes=a.mixed_sizes)
    print(f"wrote {count} sample(s) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.dataset", main))
