"""python -m rcnn.dataset: build a calibration set (test_data_set_N/input_0.pb) from a folder of images.

Images are read in sorted file-name order; sample N is the N-th image. Each is resized and normalised with
rcnn.preprocess (the same arithmetic as `rcnn.run -p`). `-p none` writes raw 0..255 RGB floats, which
`rcnn.calibrate --data_preprocess=...` then normalises, as in the seed's flow.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.errors import RcnnError
from rcnn.onnx_model import read_model_info
from rcnn.preprocess import ALIASES, MODES, UNKNOWN_RANK_IMAGE_DIMS, image_to_tensor
from rcnn.tensors import save_tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp"}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.dataset", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--images", type=Path, required=True, help="folder of images (not searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="folder that receives test_data_set_N/input_0.pb")
    p.add_argument("-p", "--preprocess", choices=[*MODES, *ALIASES], required=True,
                   help="preprocessing: " + "; ".join(f"{k}: {m.doc}" for k, m in MODES.items()))
    dims = p.add_mutually_exclusive_group()
    dims.add_argument("--size", type=int, nargs="+", metavar="N",
                      help="target size: H W, or S for S x S (default: each image's own size)")
    dims.add_argument("--model", type=Path, default=None,
                      help="take the layout and H, W from this model's first input ([3,H,W] or [1,3,H,W])")
    p.add_argument("--layout", choices=["chw", "nchw"], default="nchw",
                   help="tensor rank: chw = [3,H,W] (model-zoo Mask R-CNN), nchw = [1,3,H,W]; ignored with --model")
    p.add_argument("--name", default="x", help="tensor name stored in each .pb (calibration matches by position)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise RcnnError(f"image folder not found: {folder}")
    images = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise RcnnError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return images


def target_dims(size: list[int] | None, model: Path | None, layout: str) -> tuple[list[int | None], str | None]:
    """The dims image_to_tensor fills (None = the image's size), and the model input's name when a model is given."""
    if model is not None:
        info = read_model_info(model)
        if not info.inputs:
            raise RcnnError(f"{model} has no inputs")
        dims = info.inputs[0].dims
        return list(UNKNOWN_RANK_IMAGE_DIMS if dims is None else dims), info.inputs[0].name
    if size is not None and (len(size) not in (1, 2) or min(size) < 1):
        raise RcnnError("--size takes H W or S, positive")
    h, w = (size * 2)[:2] if size else (None, None)
    return ([3, h, w] if layout == "chw" else [1, 3, h, w]), None


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    images = list_images(a.images)
    dims, input_name = target_dims(a.size, a.model, a.layout)
    name = input_name or a.name
    for n, image in enumerate(tqdm(images, desc="images", unit="image", disable=a.quiet)):
        save_tensor(image_to_tensor(image, a.preprocess, dims), a.out / f"test_data_set_{n}" / "input_0.pb", name)
    print(f"wrote {len(images)} sample(s) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.dataset", main))
