"""Annotated image of detections (Pillow only): translucent masks with contours, boxes, class names and scores."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rcnn.detection.detections import Detections

MASK_ALPHA = 0.45
BOX_WIDTH = 2


def palette(n: int) -> list[tuple[int, int, int]]:
    """n distinct, deterministic colours: hues a golden-ratio step apart, so neighbours in the list differ most."""
    colours = []
    for k in range(n):
        r, g, b = colorsys.hsv_to_rgb((0.13 + k * 0.618033988749895) % 1.0, 0.85, 0.95)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def contour(mask: np.ndarray) -> np.ndarray:
    """The mask's pixels with a 4-neighbour outside it (the image edge counts as outside)."""
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~inner


def label_text(label: int, score: float, names: Sequence[str]) -> str:
    name = names[label] if 0 <= label < len(names) else f"class {label}"
    return f"{name} {score:.2f}"


def upscale(rgb: np.ndarray, dets: Detections, min_side: int) -> tuple[np.ndarray, Detections]:
    """Integer (pixel-repeating) enlargement so the longer side is at least min_side: labels on a 256-pixel image
    would cover the shapes they name."""
    k = max(1, -(-min_side // max(rgb.shape[:2])))
    if k == 1:
        return rgb, dets
    masks = None if dets.masks is None else dets.masks.repeat(k, axis=1).repeat(k, axis=2)
    return rgb.repeat(k, axis=0).repeat(k, axis=1), Detections(
        dets.boxes * k, dets.labels, dets.scores, masks, (dets.image_hw[0] * k, dets.image_hw[1] * k))


def draw(rgb: np.ndarray, dets: Detections, names: Sequence[str], min_side: int = 0) -> Image.Image:
    """The HxWx3 uint8 image with every detection drawn in its own colour; the lowest-scoring ones go underneath.
    Images whose longer side is under min_side are enlarged by an integer factor first."""
    rgb, dets = upscale(rgb, dets, min_side)
    out = rgb.astype(np.float32)
    colours = palette(len(dets))
    order = range(len(dets) - 1, -1, -1)  # best last, so it ends up on top
    if dets.masks is not None:
        for k in order:
            m, c = dets.masks[k], np.array(colours[k], dtype=np.float32)
            out[m] = (1 - MASK_ALPHA) * out[m] + MASK_ALPHA * c
            out[contour(m)] = c
    image = Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for k in order:
        x1, y1, x2, y2 = (float(v) for v in dets.boxes[k])
        pen.rectangle((x1, y1, max(x2 - 1, x1), max(y2 - 1, y1)), outline=colours[k], width=BOX_WIDTH)
        text = label_text(int(dets.labels[k]), float(dets.scores[k]), names)
        left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = y1 - th if y1 - th >= 0 else y1  # above the box when there is room, else just inside it
        pen.rectangle((x1, ty, x1 + tw, ty + th), fill=colours[k])
        pen.text((x1 + 2 - left, ty + 2 - top), text, fill=(0, 0, 0), font=font)
    return image
