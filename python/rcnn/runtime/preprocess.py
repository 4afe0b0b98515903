"""Image → input tensor, the `-p` normalisations shared with the C++ runner (cpp/ort_test/preprocess.cpp).

A normalisation is a preset name or a spec string. A spec is comma-separated tokens, in any order, each at most once,
no spaces:
  rgb | bgr        channel order of the tensor (default rgb)
  /255             divide by 255 first
  mean=A:B:C       subtract, per output channel (mean=A: the same for all three)
  std=A:B:C        divide, per output channel (std=A: all three); no value may be 0
  scale=S          multiply
Whatever the token order, x = v (0..255) goes through x/255, x-mean, x/std, x*scale, in this order and where given;
constants are in output channel order (B, G, R with bgr). Numbers are decimals ([+-]digits[.digits][e[+-]digits]),
read as Python's float() reads them and rounded to float32. Example, ImageNet torchvision classifiers:
`rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225`. Each preset is a name for a spec (PRESETS, also in
`--help`); `rcnn` and `None` are aliases of zoo and none. The model metadata rcnn.preprocess holds either form.

Both sides parse a spec the same way (and refuse the same specs, with the same one-line messages) and compute the
same float32 operations in the same order, so for the same decoded pixels the tensors are bit-identical
(tests/test_ort_test.py and tests/test_preprocess_spec.py check it against ort_test). PNG/BMP/PPM decode identically
everywhere, 16-bit ones included (both keep the high byte of each sample); JPEG decoders (Pillow's libjpeg-turbo,
ort_test's stb_image) may differ by a grey level here and there. Images are checked against RCNN_MAX_IMAGE_PIXELS
from their header before they are decoded, and the tensor an image input wants against RCNN_MAX_TENSOR_BYTES
(rcnn.onnxgraph.gate).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from rcnn.errors import RcnnError
from rcnn.onnxgraph import gate

F32 = np.float32
FLOAT32_MAX = float(np.finfo(F32).max)
# The number syntax both sides accept before converting (ASCII digits only: Python's \d would take other scripts').
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Longest piece of untrusted text quoted in an error message (the C++ side counts bytes, this side characters).
_QUOTE_LIMIT = 80


@dataclass(frozen=True)
class Mode:
    """x = v (0..255); then, in this order and where set: x/255, x-mean, x/std, x*scale. Constants in output order,
    already rounded to float32."""

    bgr: bool
    divide_by_255: bool = False
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    scale: float | None = None


# Preset name -> (its spec, what it is for). ort_test's table (cpp/ort_test/preprocess.cpp) holds the same specs.
PRESETS: dict[str, tuple[str, str]] = {
    "zoo": ("bgr,mean=102.9801:115.9465:122.7717", "BGR minus Detectron means (model-zoo Mask R-CNN)"),
    "torchvision": ("rgb,/255", "RGB in [0,1]; torchvision detectors normalise inside"),
    "caffe2": ("bgr,mean=103.939:116.779:123.68", "BGR minus ImageNet means"),
    "caffe": ("bgr,mean=103.94:116.78:123.68,scale=0.017", "BGR minus means, times 0.017"),
    "mxnet": ("bgr,/255,mean=0.406:0.456:0.485,std=0.225:0.224:0.229", "BGR, /255, mean/std"),
    "none": ("rgb", "RGB 0..255 as float, untouched"),
}
# Names the reference's calibrate.py uses for the same modes.
ALIASES = {"rcnn": "zoo", "None": "none"}
METADATA_KEY = "rcnn.preprocess"
TOKENS_HELP = "rgb|bgr, /255, mean=A[:B:C], std=A[:B:C], scale=S"


def quote(text: str) -> str:
    """'text' for an error line: control characters as \\xHH (the line stays one line), long text cut."""
    escaped = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text[:_QUOTE_LIMIT])
    return "'" + escaped + "'" + ("..." if len(text) > _QUOTE_LIMIT else "")


def _spec_error(token: str, problem: str) -> RcnnError:
    return RcnnError(f"bad preprocess spec: token {quote(token)} {problem}")


def _number(token: str, text: str) -> float:
    """Decimal text -> the float32 value np.float32(float(text)) gives, as a Python float."""
    if not _DECIMAL.fullmatch(text):
        raise _spec_error(token, f"has {quote(text)}, not a finite decimal number")
    value = float(text)
    if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
        raise _spec_error(token, f"has {quote(text)}, outside the float32 range")
    return float(F32(value))


def _values(token: str, text: str, counts: tuple[int, ...]) -> list[float]:
    parts = text.split(":")
    if len(parts) not in counts:
        want = "1 value" if counts == (1,) else "1 or 3 values"
        raise _spec_error(token, f"needs {want}, got {len(parts)}")
    return [_number(token, part) for part in parts]


def _triple(values: list[float]) -> tuple[float, float, float]:
    return (values[0], values[0], values[0]) if len(values) == 1 else (values[0], values[1], values[2])


def _token_key(token: str) -> str:
    """The setting a token gives (order, /255, mean, std, scale); RcnnError for an unknown token."""
    if token in ("rgb", "bgr"):
        return "order"
    key, equals, _ = token.partition("=")
    if token == "/255" or (equals and key in ("mean", "std", "scale")):
        return key
    raise _spec_error(token, f"is unknown (a spec is a preset, {'|'.join(PRESETS)}, or tokens: {TOKENS_HELP})")


def parse_spec(spec: str) -> Mode:
    """A spec string (see the module doc) -> Mode; RcnnError naming the first bad token otherwise. Tokens are checked
    one by one from the left, as ort_test does, so both name the same token."""
    if not spec:
        raise RcnnError(f"bad preprocess spec: it is empty (give a preset or tokens: {TOKENS_HELP})")
    seen: dict[str, str] = {}  # setting -> the token that gave it
    bgr, divide = False, False
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    scale: float | None = None
    for token in spec.split(","):
        key = _token_key(token)
        if key in seen:
            raise _spec_error(token, f"repeats {quote(seen[key])}")
        seen[key] = token
        value = token.partition("=")[2]
        if key == "order":
            bgr = token == "bgr"
        elif key == "/255":
            divide = True
        elif key == "scale":
            scale = _values(token, value, (1,))[0]
        elif key == "mean":
            mean = _triple(_values(token, value, (1, 3)))
        else:
            std = _triple(_values(token, value, (1, 3)))
            if 0.0 in std:
                raise _spec_error(token, "has a std of 0 (after rounding to float32)")
    return Mode(bgr=bgr, divide_by_255=divide, mean=mean, std=std, scale=scale)


MODES: dict[str, Mode] = {name: parse_spec(spec) for name, (spec, _) in PRESETS.items()}


def mode_names() -> list[str]:
    return list(MODES)


def resolve_mode(name: str) -> str:
    """The preset's canonical name, or the spec itself once it parses; RcnnError otherwise."""
    name = ALIASES.get(name, name)
    if name not in MODES:
        parse_spec(name)
    return name


def mode_of(name: str) -> Mode:
    """The Mode a preset name or spec stands for (a spec is parsed once, here)."""
    name = ALIASES.get(name, name)
    return MODES[name] if name in MODES else parse_spec(name)


def preprocess_arg(text: str) -> str:
    """argparse type for -p: a preset or a spec, refused as a one-line usage error (exit 2) when it does not parse."""
    try:
        return resolve_mode(text)
    except RcnnError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def presets_help() -> str:
    """One line per preset for --help: its name, its spec, what it is for."""
    return "; ".join(f"{name} = {spec} ({doc})" for name, (spec, doc) in PRESETS.items())


def preprocess_help(default: str) -> str:
    """The -p help text of the CLIs: the grammar, the presets, then `default` (a sentence on the default)."""
    return (f"image normalisation: a preset name or a spec, comma-separated tokens in any order, each at most once: "
            f"{TOKENS_HELP}; applied as x/255, -mean, /std, *scale, constants in output channel order (e.g. "
            f"rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225). Presets: {presets_help()}. {default}")


# An image input of a model that declares no shape for it is fed as a batch of one.
UNKNOWN_RANK_IMAGE_DIMS: tuple[int | None, ...] = (1, 3, None, None)


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit grey: keep the high byte, as stb_image (ort_test) does; convert("RGB") would clip at 255 instead.
        grey = (np.clip(np.asarray(im, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


@contextmanager
def _checked_image(path: str | Path) -> Iterator[Image.Image]:
    """The opened image (header read, pixels not yet decoded), its size checked against RCNN_MAX_IMAGE_PIXELS; the
    failures of opening and decoding in it as one-line RcnnErrors."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Our own pixel limit (checked here, the same as ort_test's) replaces Pillow's decompression-bomb check,
        # which would refuse at another size with another message.
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as im:  # reads the header only
            gate.check_image_size(im.width, im.height, f"image {str(path)!r}")
            yield im
    except FileNotFoundError:
        raise RcnnError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise RcnnError(f"cannot read image {path}: {e}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file from its header, without decoding it (checked as load_rgb checks it)."""
    with _checked_image(path) as im:
        return im.height, im.width


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to HxWx3 uint8 RGB, after checking its size against RCNN_MAX_IMAGE_PIXELS."""
    with _checked_image(path) as im:
        im.load()
        return _to_rgb(im)


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
    """HxWx3 float32 (0..255, RGB) → 3xHxW float32 in the channel order and scale of `mode` (a preset or spec)."""
    m = mode_of(mode)
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
