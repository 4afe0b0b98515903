"""Detector outputs (boxes, labels, scores, masks) → detections in the original image's pixels.

Two output contracts are handled as they come, with no edits to the model or this code:
- torchvision exports: boxes float32[N,4] (x1,y1,x2,y2 in model-input pixels), labels int64[N], scores float32[N],
  masks float32[N,1,H,W] probabilities already pasted at the model input's size HxW;
- the ONNX model-zoo Mask R-CNN: the same, with numeric output names and masks float32[N,1,M,M] (M=28), one
  probability map per box that still has to be pasted into its box.

Mask paste convention (per-box masks): the MxM map is stretched over the box so that cell centres sit at
box_x1 + (i + 0.5) * box_w / M, with a one-cell border of zeros around it; every image pixel is sampled bilinearly at
its centre and kept where the probability is > 0.5. Because the border is zero, nothing outside the box survives the
threshold, and an all-ones map covers exactly the pixels whose centres lie inside the box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rcnn.errors import RcnnError
from rcnn.runtime.preprocess import resize_bilinear

MASK_THRESHOLD = 0.5
NAMES = ("boxes", "labels", "scores", "masks")
# Per-box mask maps are small (28x28 in Detectron-style heads); a larger map that is not the model input's size is
# more likely a pasted mask whose input size we guessed wrong, which deserves an error rather than garbage.
MAX_BOX_MASK = 128


@dataclass
class RawDetections:
    """Detector outputs as the model gave them, in model-input pixels; `names` are the output names used."""

    boxes: np.ndarray  # float32 [N,4]
    labels: np.ndarray  # int64 [N]
    scores: np.ndarray  # float32 [N]
    masks: np.ndarray | None  # float32 [N,1,h,w] or None for a box-only detector
    names: dict[str, str]


@dataclass
class Detections:
    """Detections in the original image: boxes x1,y1,x2,y2 in its pixels, masks boolean at its size."""

    boxes: np.ndarray  # float32 [N,4]
    labels: np.ndarray  # int64 [N]
    scores: np.ndarray  # float32 [N]
    masks: np.ndarray | None  # bool [N,H,W]
    image_hw: tuple[int, int]

    def __len__(self) -> int:
        return len(self.scores)


def _role(a: np.ndarray) -> str | None:
    """Which detector output an array of this dtype and shape can be."""
    if a.dtype.kind == "f" and a.ndim == 2 and a.shape[1] == 4:
        return "boxes"
    if a.dtype.kind in "iu" and a.ndim == 1:
        return "labels"
    if a.dtype.kind == "f" and a.ndim == 1:
        return "scores"
    if a.dtype.kind == "f" and a.ndim == 4 and a.shape[1] == 1:
        return "masks"
    return None


def _pick(outputs: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Output name for each role: the torchvision name when it fits the role, else the one output of that shape."""
    chosen = {role: role for role in NAMES if role in outputs and _role(outputs[role]) == role}
    for role in NAMES:
        if role in chosen:
            continue
        fits = [n for n, a in outputs.items() if n not in chosen.values() and _role(a) == role]
        if len(fits) > 1:
            raise RcnnError(f"cannot tell which output holds the {role}: {', '.join(fits)} all fit")
        if fits:
            chosen[role] = fits[0]
    return chosen


def looks_like_detections(outputs: Mapping[str, np.ndarray]) -> bool:
    """True when the outputs hold boxes, labels and scores (what rcnn.run can use to decide to postprocess)."""
    try:
        chosen = _pick(outputs)
    except RcnnError:
        return False
    return {"boxes", "labels", "scores"} <= set(chosen)


def find_detection_outputs(outputs: Mapping[str, np.ndarray]) -> RawDetections:
    """Boxes, labels, scores and (if any) masks among a model's outputs, by name or else by dtype and shape."""
    chosen = _pick(outputs)
    missing = [r for r in NAMES[:3] if r not in chosen]
    if missing:
        have = ", ".join(f"{n} {a.dtype}{list(a.shape)}" for n, a in outputs.items()) or "none"
        raise RcnnError(f"no detection outputs: found no {'/'.join(missing)} among the outputs ({have})")
    sizes = {r: len(outputs[n]) for r, n in chosen.items()}
    if len(set(sizes.values())) > 1:
        raise RcnnError("detection outputs disagree on the number of detections: "
                        + ", ".join(f"{r} ({chosen[r]}) {k}" for r, k in sizes.items()))
    return RawDetections(
        boxes=outputs[chosen["boxes"]].astype(np.float32),
        labels=outputs[chosen["labels"]].astype(np.int64),
        scores=outputs[chosen["scores"]].astype(np.float32),
        masks=outputs[chosen["masks"]].astype(np.float32) if "masks" in chosen else None,
        names=chosen,
    )


def scale_boxes(boxes: np.ndarray, input_hw: tuple[int, int], image_hw: tuple[int, int]) -> np.ndarray:
    """Boxes in model-input pixels → image pixels (x by W_img/W_in, y by H_img/H_in), clipped to the image."""
    sy, sx = image_hw[0] / input_hw[0], image_hw[1] / input_hw[1]
    out = boxes.astype(np.float64) * np.array([sx, sy, sx, sy])
    out[:, 0::2] = out[:, 0::2].clip(0, image_hw[1])
    out[:, 1::2] = out[:, 1::2].clip(0, image_hw[0])
    return out.astype(np.float32)


def _axis_samples(lo: float, hi: float, cells: int, first: int, count: int) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
    """Indices into the zero-bordered map (cells + 2 long) and weights for pixels first..first+count-1."""
    centres = np.arange(first, first + count, dtype=np.float64) + 0.5
    u = (centres - lo) / (hi - lo) * cells - 0.5 + 1.0  # +1: the zero border is cell 0
    u = u.clip(0.0, cells + 1.0)
    i0 = np.floor(u).astype(np.int64)
    i1 = np.minimum(i0 + 1, cells + 1)
    return i0, i1, u - i0


def paste_mask(prob: np.ndarray, box: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """One hxw probability map pasted into `box` (image pixels) → boolean mask of the image (see module doc)."""
    h_img, w_img = image_hw
    out = np.zeros(image_hw, dtype=bool)
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 <= x1 or y2 <= y1:
        return out
    # Only pixels whose centre is inside the box can pass the threshold.
    c0, c1 = max(int(np.floor(x1)), 0), min(int(np.ceil(x2)), w_img)
    r0, r1 = max(int(np.floor(y1)), 0), min(int(np.ceil(y2)), h_img)
    if c1 <= c0 or r1 <= r0:
        return out
    m = np.pad(prob.astype(np.float64), 1)
    ry0, ry1, wy = _axis_samples(y1, y2, prob.shape[0], r0, r1 - r0)
    cx0, cx1, wx = _axis_samples(x1, x2, prob.shape[1], c0, c1 - c0)
    wy, wx = wy[:, None], wx[None, :]
    top = (1 - wx) * m[ry0[:, None], cx0[None, :]] + wx * m[ry0[:, None], cx1[None, :]]
    bottom = (1 - wx) * m[ry1[:, None], cx0[None, :]] + wx * m[ry1[:, None], cx1[None, :]]
    out[r0:r1, c0:c1] = (1 - wy) * top + wy * bottom > MASK_THRESHOLD
    return out


def paste_masks(masks: np.ndarray, boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Per-box maps [N,1,h,w] pasted into their boxes (image pixels) → bool [N,H,W]."""
    out = np.zeros((len(masks), *image_hw), dtype=bool)
    for k, (m, box) in enumerate(zip(masks, boxes, strict=True)):
        out[k] = paste_mask(m[0], box, image_hw)
    return out


def resize_masks(masks: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Full-size maps [N,1,H_in,W_in] → bool [N,H,W] at the image size: the same half-pixel bilinear as the input
    resize (rcnn.preprocess), then the threshold."""
    out = np.zeros((len(masks), *image_hw), dtype=bool)
    for k, m in enumerate(masks):
        out[k] = resize_bilinear(m[0][:, :, None].astype(np.float32), *image_hw)[:, :, 0] > MASK_THRESHOLD
    return out


def mask_layout(mask_hw: tuple[int, int], input_hw: tuple[int, int]) -> str:
    """"full" for masks already pasted at the model input's size, "box" for small per-box maps."""
    if tuple(mask_hw) == tuple(input_hw):
        return "full"
    if max(mask_hw) <= MAX_BOX_MASK:
        return "box"
    raise RcnnError(f"masks of {mask_hw[0]}x{mask_hw[1]} are neither the model input's size "
                    f"({input_hw[0]}x{input_hw[1]}) nor small per-box maps; give the model or the input size")


def to_image_space(raw: RawDetections, input_hw: tuple[int, int], image_hw: tuple[int, int],
                   score_threshold: float = 0.5) -> Detections:
    """Keep detections scoring >= score_threshold, best first, and map boxes and masks to the original image."""
    keep = np.flatnonzero(raw.scores >= score_threshold)
    keep = keep[np.argsort(-raw.scores[keep], kind="stable")]
    boxes = scale_boxes(raw.boxes[keep], input_hw, image_hw)
    masks = None
    if raw.masks is not None:
        picked = raw.masks[keep]
        if mask_layout(raw.masks.shape[2:], input_hw) == "full":
            masks = resize_masks(picked, image_hw)
        else:
            masks = paste_masks(picked, boxes, image_hw)
    return Detections(boxes, raw.labels[keep], raw.scores[keep], masks, image_hw)
