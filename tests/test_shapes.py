"""rcnn.shapes: the synthetic data are reproducible, and boxes, masks and the COCO files agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rcnn.detection import rle
from rcnn.models.synthetic import CLASSES, MIN_AREA, make_sample

from conftest import run_cli


def test_samples_are_reproducible_and_distinct() -> None:
    a, b, c = make_sample(5, 7), make_sample(5, 7), make_sample(5, 8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.image, c.image)


def test_boxes_are_tight_around_visible_masks_and_masks_are_disjoint() -> None:
    labels_seen: set[int] = set()
    for i in range(40):
        s = make_sample(0, i)
        assert s.image.dtype == np.uint8 and s.image.shape == (256, 256, 3)
        assert len(s.masks) == len(s.labels) == len(s.boxes)
        assert (s.masks.sum(axis=0) <= 1).all()  # occlusion subtracted: a pixel belongs to one instance at most
        for m, box in zip(s.masks, s.boxes, strict=True):
            assert m.sum() >= MIN_AREA
            ys, xs = np.nonzero(m)
            assert list(box) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        labels_seen.update(int(v) for v in s.labels)
    assert labels_seen == set(range(1, len(CLASSES)))


def test_coco_folder_matches_the_samples(tmp_path: Path) -> None:
    r = run_cli("rcnn.shapes", "--out", tmp_path / "val", "--count", "3", "--seed", "9", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    coco = json.loads((tmp_path / "val" / "annotations.json").read_text())
    assert [im["file_name"] for im in coco["images"]] == [f"images/{i:05d}.png" for i in range(3)]
    assert [c["name"] for c in coco["categories"]] == list(CLASSES[1:])
    for image in coco["images"]:
        sample = make_sample(9, image["id"] - 1)
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        assert len(anns) == len(sample.masks)
        for a, m in zip(anns, sample.masks, strict=True):
            assert np.array_equal(rle.decode(a["segmentation"]), m) and a["area"] == m.sum()
    assert run_cli("rcnn.shapes", "--out", tmp_path / "x", "--count", "0", cwd=tmp_path).returncode == 2


def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    r = run_cli("rcnn.shapes", "--out", tmp_path / "file" / "val", "--count", "1", "-q", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("rcnn.shapes: error: Not a directory: ")
    assert len(r.stderr.strip().splitlines()) == 1
