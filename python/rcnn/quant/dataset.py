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
from rcnn.runtime.preprocess import UNKNOWN_RANK_IMAGE_DIMS, image_size, image_to_tensor
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
    """The dims image_to_tensor fills (None = free: the image's size), and the model input's name when a model is
    given. --size fills a model's free H/W and must agree with its fixed ones."""
    if size is not None and (len(size) not in (1, 2) or min(size) < 1):
        raise RcnnError("--size takes H W or S, positive")
    h, w = (size * 2)[:2] if size else (None, None)
    if model is None:
        return ([3, h, w] if layout == "chw" else [1, 3, h, w]), None
    info = read_model_info(model)
    if not info.inputs:
        raise RcnnError(f"{model} has no inputs")
    dims = list(UNKNOWN_RANK_IMAGE_DIMS if info.inputs[0].dims is None else info.inputs[0].dims)
    if size is not None and len(dims) >= 2:
        for i, want in ((-2, h), (-1, w)):
            if dims[i] is not None and dims[i] != want:
                raise RcnnError(f"--size {h} {w} disagrees with {model.name}'s input {info.inputs[0].name!r} "
                                f"[{'x'.join('?' if d is None else str(d) for d in dims)}]")
            dims[i] = want
    return dims, info.inputs[0].name


def _round_to(n: int, multiple: int) -> int:
    return max(multiple, (n + multiple // 2) // multiple * multiple)


def plan_dims(images: Sequence[Path], dims: Sequence[int | None], multiple_of: int = 0,
              mixed_sizes: bool = False) -> list[list[int | None]]:
    """Each image's dims, free H/W taken from its header (rounded to `multiple_of` when > 0). Images of different
    sizes under free H/W are refused unless `mixed_sizes`: most models with free H/W still need equal, or
    stride-aligned, sizes for calibration to run (an FPN's top-down Add fails to broadcast otherwise)."""
    if multiple_of < 0:
        raise RcnnError("--multiple-of must be positive")
    free = [i for i in (-2, -1) if len(dims) >= 2 and dims[i] is None]
    if not free:
        return [list(dims)] * len(images)
    planned, seen = [], {}
    for image in images:
        hw = image_size(image)
        d = list(dims)
        for i in free:
            d[i] = _round_to(hw[i], multiple_of) if multiple_of else hw[i]
        planned.append(d)
        seen.setdefault((d[-2], d[-1]), image.name)
    if len(seen) > 1 and not mixed_sizes:
        sizes = ", ".join(f"{name} {h}x{w}" for (h, w), name in list(seen.items())[:3])
        sizes += ", ..." if len(seen) > 3 else ""
        raise RcnnError(f"the images come out at {len(seen)} different sizes ({sizes})"
                        " because the model's H/W are free: give --size H W for one size, or --mixed-sizes if the "
                        "model takes any size (with --multiple-of N for one that needs its stride)")
    return planned


def write_dataset(images: Sequence[Path], out: Path, preprocess: str, dims: Sequence[int | None], name: str,
                  progress: bool = False, multiple_of: int = 0, mixed_sizes: bool = False) -> int:
    """out/test_data_set_N/input_0.pb for the N-th image (a tensor named `name`), its dims planned by plan_dims
    (refused before anything is written); returns how many were written."""
    planned = plan_dims(images, dims, multiple_of, mixed_sizes)
    for n, (image, d) in enumerate(tqdm(list(zip(images, planned, strict=True)), desc="images", unit="image",
                                        disable=not progress)):
        save_tensor(image_to_tensor(image, preprocess, d), out / f"test_data_set_{n}" / "input_0.pb", name)
    return len(images)
