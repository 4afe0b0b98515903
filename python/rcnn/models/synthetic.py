"""Synthetic instance-segmentation data: circles, squares and triangles on textured backgrounds, with masks.

Seeded and reproducible: sample i of split seed S is drawn from numpy's default_rng([S, i]), so any sample can be
regenerated on its own. Later shapes occlude earlier ones (their masks are subtracted); an instance left with fewer
than MIN_AREA pixels is dropped. Boxes are the tight boxes of the visible masks (x1, y1, x2, y2, exclusive ends).

`python -m rcnn.shapes --out DIR --count N --seed S` writes a COCO-format folder (DIR/annotations.json with RLE
segmentations, DIR/images/NNNNN.png) that rcnn.eval and pycocotools read like any COCO folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rcnn.detection import rle
from rcnn.files import atomic_write

CLASSES = ("__background__", "circle", "square", "triangle")  # index = label
SIZE = 256
MIN_AREA = 40
RADIUS = (10, 40)
MAX_SHAPES = 4
TRAIN_SEED, VAL_SEED, CALIB_SEED, DEMO_SEED = 0, 1, 2, 3


@dataclass
class Sample:
    image: np.ndarray  # uint8 [H,W,3] RGB
    masks: np.ndarray  # bool [N,H,W]
    labels: np.ndarray  # int64 [N], 1..3
    boxes: np.ndarray  # float32 [N,4] x1,y1,x2,y2


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A gradient between two colours, low-frequency stripes and pixel noise: enough texture that edges of the
    background are not mistaken for shapes."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, np.pi)
    t = np.clip(np.cos(angle) * xx + np.sin(angle) * yy, 0, 1)[..., None] if rng.random() < 0.7 else 0.0
    img = c0 + (c1 - c0) * t
    freq, phase, amp = rng.uniform(2, 8), rng.uniform(0, 2 * np.pi), rng.uniform(0, 20)
    img = img + amp * np.sin(2 * np.pi * freq * (xx * np.cos(angle + 1) + yy * np.sin(angle + 1)) + phase)[..., None]
    return img + rng.normal(0, 8, (size, size, 3))


def _shape_mask(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    r = rng.uniform(*RADIUS)
    cx, cy = rng.uniform(r * 0.5, size - r * 0.5, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if label == 1:
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if label == 2:
        h = r * 0.85
        return (np.abs(xx - cx) <= h) & (np.abs(yy - cy) <= h)
    a = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    px, py = cx + r * np.cos(a), cy + r * np.sin(a)
    inside = np.ones((size, size), bool)
    for i in range(3):  # same side of each edge as the opposite vertex
        j, k = (i + 1) % 3, (i + 2) % 3
        edge = (px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
        ref = (px[j] - px[i]) * (py[k] - py[i]) - (py[j] - py[i]) * (px[k] - px[i])
        inside &= edge * np.sign(ref) >= 0
    return inside


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    for _ in range(20):
        c = rng.uniform(0, 255, 3)
        if np.abs(c - under).sum() > 150:
            return c
    return 255.0 - under


def make_sample(seed: int, index: int, size: int = SIZE) -> Sample:
    rng = np.random.default_rng([seed, index])
    img = _background(rng, size)
    masks: list[np.ndarray] = []
    labels: list[int] = []
    for _ in range(rng.integers(1, MAX_SHAPES + 1)):
        label = int(rng.integers(1, len(CLASSES)))
        m = _shape_mask(rng, label, size)
        colour = _contrasting_colour(rng, img[m].mean(axis=0))
        img[m] = colour + rng.normal(0, 6, (int(m.sum()), 3))
        masks = [old & ~m for old in masks]
        masks.append(m)
        labels.append(label)
    keep = [i for i, m in enumerate(masks) if m.sum() >= MIN_AREA]
    masks_a = np.stack([masks[i] for i in keep]) if keep else np.zeros((0, size, size), bool)
    boxes = np.zeros((len(keep), 4), np.float32)
    for j, m in enumerate(masks_a):
        ys, xs = np.nonzero(m)
        boxes[j] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return Sample(np.clip(img, 0, 255).astype(np.uint8), masks_a, np.array([labels[i] for i in keep], np.int64),
                  boxes)


def coco_annotations(samples: Sequence[Sample], file_names: Sequence[str]) -> dict:
    """A COCO instances dict (RLE segmentations, bbox x,y,w,h) for the samples."""
    images, anns = [], []
    for image_id, (s, name) in enumerate(zip(samples, file_names, strict=True), start=1):
        h, w = s.image.shape[:2]
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        for m, label, box in zip(s.masks, s.labels, s.boxes, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": int(label),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(m.sum()),
                         "segmentation": rle.encode(m), "iscrowd": 0})
    cats = [{"id": i, "name": n} for i, n in enumerate(CLASSES) if i]
    return {"images": images, "annotations": anns, "categories": cats}


def write_coco_folder(out: Path, count: int, seed: int, progress: bool = True) -> Path:
    """Writes out/images/NNNNN.png and out/annotations.json; returns the annotations path."""
    from PIL import Image
    from tqdm import tqdm

    (out / "images").mkdir(parents=True, exist_ok=True)
    samples, names = [], []
    for i in tqdm(range(count), desc="shapes", unit="img", disable=not progress):
        s = make_sample(seed, i)
        name = f"images/{i:05d}.png"
        Image.fromarray(s.image).save(out / name)
        samples.append(s)
        names.append(name)
    ann = out / "annotations.json"
    atomic_write(ann, json.dumps(coco_annotations(samples, names)).encode())
    return ann
