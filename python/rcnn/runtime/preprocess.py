"""Image → input tensor, the `-p` modes shared with the C++ runner (cpp/ort_test/image_input.cpp).

Both sides compute the same float32 operations in the same order, so for the same decoded pixels the tensors are
bit-identical (tests/test_preprocess.py checks it against ort_test). PNG/BMP/PPM decode identically everywhere,
16-bit ones included (both keep the high byte of each sample); JPEG decoders (Pillow's libjpeg-turbo, ort_test's
stb_image) may differ by a grey level here and there. Images are checked against RCNN_MAX_IMAGE_PIXELS from their
header before they are decoded, and the tensor an image input wants against RCNN_MAX_TENSOR_BYTES (rcnn.onnxgraph.gate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from rcnn.errors import RcnnError
from rcnn.onnxgraph import gate

F32 = np.float32


@dataclass(frozen=True)
class Mode:
    """x = v (0..255); then, in this order and where set: x/255, x-mean, x/std, x*scale. Constants in output order."""

    bgr: bool
    divide_by_255: bool = False
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    scale: float | None = None
    doc: str = ""


MODES: dict[str, Mode] = {
    "zoo": Mode(bgr=True, mean=(102.9801, 115.9465, 122.7717), doc="BGR minus Detectron means (model-zoo Mask R-CNN)"),
    "torchvision": Mode(bgr=False, divide_by_255=True, doc="RGB in [0,1]; torchvision detectors normalise inside"),
    "caffe2": Mode(bgr=True, mean=(103.939, 116.779, 123.68), doc="BGR minus ImageNet means"),
    "caffe": Mode(bgr=True, mean=(103.94, 116.78, 123.68), scale=0.017, doc="BGR minus means, times 0.017"),
    "mxnet": Mode(
        bgr=True, divide_by_255=True, mean=(0.406, 0.456, 0.485), std=(0.225, 0.224, 0.229), doc="BGR, /255, mean/std"
    ),
    "none": Mode(bgr=False, doc="RGB 0..255 as float, untouched"),
}
# Names the reference's calibrate.py uses for the same modes.
ALIASES = {"rcnn": "zoo", "None": "none"}
METADATA_KEY = "rcnn.preprocess"


def mode_names() -> list[str]:
    return list(MODES)


def resolve_mode(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in MODES:
        raise RcnnError(f"unknown preprocess mode {name!r}; choose from {', '.join(MODES)}")
    return name


# An image input of a model that declares no shape for it is fed as a batch of one.
UNKNOWN_RANK_IMAGE_DIMS: tuple[int | None, ...] = (1, 3, None, None)


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit grey: keep the high byte, as stb_image (ort_test) does; convert("RGB") would clip at 255 instead.
        grey = (np.clip(np.asarray(im, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to HxWx3 uint8 RGB, after checking its size against RCNN_MAX_IMAGE_PIXELS."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Our own pixel limit (checked below, the same as ort_test's) replaces Pillow's decompression-bomb check,
        # which would refuse at another size with another message.
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as im:  # reads the header only
            gate.check_image_size(im.width, im.height, f"image {str(path)!r}")
            im.load()
            return _to_rgb(im)
    except FileNotFoundError:
        raise RcnnError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise RcnnError(f"cannot read image {path}: {e}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def resize_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize of HxWxC float32, no antialiasing, same arithmetic as the C++ runner."""
    in_h, in_w = img.shape[:2]
    if (in_h, in_w) == (out_h, out_w):
        return img

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = (np.arange(n_out, dtype=F32) + F32(0.5)) * F32(n_in) / F32(n_out) - F32(0.5)
        s = np.maximum(s, F32(0))
        i0 = s.astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, s - i0.astype(F32)

    y0, y1, ly = axis(out_h, in_h)
    x0, x1, lx = axis(out_w, in_w)
    ly, lx = ly[:, None, None], lx[None, :, None]
    one = F32(1)
    top = (one - lx) * img[y0][:, x0] + lx * img[y0][:, x1]
    bottom = (one - lx) * img[y1][:, x0] + lx * img[y1][:, x1]
    return ((one - ly) * top + ly * bottom).astype(F32)


def normalize(rgb: np.ndarray, mode: str) -> np.ndarray:
    """HxWx3 float32 (0..255, RGB) → 3xHxW float32 in the mode's channel order and scale."""
    m = MODES[resolve_mode(mode)]
    x = rgb[:, :, ::-1] if m.bgr else rgb
    x = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=F32)

    def per_channel(c: tuple[float, float, float]) -> np.ndarray:
        return np.asarray(c, dtype=F32)[:, None, None]

    if m.divide_by_255:
        x = x / F32(255.0)
    if m.mean is not None:
        x = x - per_channel(m.mean)
    if m.std is not None:
        x = x / per_channel(m.std)
    if m.scale is not None:
        x = x * F32(m.scale)
    return x.astype(F32)


def target_hw(dims: Sequence[int | None] | None, image_hw: tuple[int, int]) -> tuple[int, int]:
    """H and W a model input of rank 3 [3,H,W] or 4 [N,3,H,W] wants; a symbolic dim takes the image's size."""
    dims = UNKNOWN_RANK_IMAGE_DIMS if dims is None else dims
    if len(dims) not in (3, 4) or dims[-3] not in (3, None):
        shape = "x".join("?" if d is None else str(d) for d in dims)
        raise RcnnError(f"an image input needs a float tensor of shape [3,H,W] or [1,3,H,W], the model wants [{shape}]")
    if len(dims) == 4 and dims[0] not in (1, None):
        raise RcnnError(f"an image input fills a batch of 1, the model wants a batch of {dims[0]}")
    h, w = dims[-2], dims[-1]
    return (h or image_hw[0], w or image_hw[1])


def image_to_tensor(path: str | Path, mode: str, dims: Sequence[int | None] | None,
                    input_name: str = "image") -> np.ndarray:
    """The tensor the model input with `dims` (None: no shape declared) gets from the image at `path` under
    preprocess `mode`."""
    rgb = load_rgb(path)
    h, w = target_hw(dims, rgb.shape[:2])
    count = 3 * h * w * 4
    gate.check_tensor_bytes(count, f"model input {input_name!r} wants a 3x{h}x{w} float tensor ({count} bytes)")
    x = normalize(resize_bilinear(rgb.astype(F32), h, w), mode)
    return x[None] if dims is None or len(dims) == 4 else x
