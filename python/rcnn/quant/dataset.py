"""The library of python -m rcnn.dataset: build a calibration set (test_data_set_N/input_0.pb) from a folder of images.

Images are read in sorted file-name order; sample N is the N-th image. Each is resized and normalised with
rcnn.preprocess (the same arithmetic as `rcnn.run -p`). `-p none` writes raw 0..255 RGB floats, which
`rcnn.calibrate --data_preprocess=...` then normalises, as in the seed's flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from rcnn.errors import RcnnError
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.runtime.preprocess import UNKNOWN_RANK_IMAGE_DIMS, image_to_tensor
from rcnn.runtime.tensors import save_tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp"}


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


def write_dataset(images: Sequence[Path], out: Path, preprocess: str, dims: Sequence[int | None], name: str,
                  progress: bool = False) -> int:
    """out/test_data_set_N/input_0.pb for the N-th image (a tensor named `name`); returns how many were written."""
    for n, image in enumerate(tqdm(images, desc="images", unit="image", disable=not progress)):
        save_tensor(image_to_tensor(image, preprocess, list(dims)), out / f"test_data_set_{n}" / "input_0.pb", name)
    return len(images)
