"""python -m rcnn.eval: the COCO-metric plumbing (ground truth as detections scores AP 1), run parsing, the identity
check, and an end-to-end ort run of a random-init exported shapes Mask R-CNN (well-formed results, AP ~0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcnn.detection import coco_eval as coco
from rcnn.errors import RcnnError
from rcnn.models.synthetic import VAL_SEED, write_coco_folder
from rcnn.tools import evaluate as ev

from conftest import run_cli


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    write_coco_folder(folder, 5, VAL_SEED, progress=False)
    return folder


def _gt_as_results(folder: Path, dx: float = 0.0) -> tuple[list[dict], list[int]]:
    """The annotations as a COCO results list (score 1), boxes shifted right by dx of their width."""
    doc = json.loads((folder / "annotations.json").read_text())
    results = []
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        results.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": [x + dx * w, y, w, h],
                        "segmentation": a["segmentation"], "score": 1.0})
    return results, [i["id"] for i in doc["images"]]


def test_ground_truth_as_detections_scores_ap_1(shapes_folder: Path) -> None:
    gt = coco.coco_ground_truth(shapes_folder / "annotations.json")
    results, ids = _gt_as_results(shapes_folder)
    for iou in ("bbox", "segm"):
        stats, summary = coco.coco_eval(gt, results, ids, iou)
        assert stats[:3] == [1.0, 1.0, 1.0], (iou, summary)
    assert "area" not in results[0], "loadRes must not write into the caller's detections"


def test_shifted_boxes_score_lower(shapes_folder: Path) -> None:
    gt = coco.coco_ground_truth(shapes_folder / "annotations.json")
    results, ids = _gt_as_results(shapes_folder, dx=0.15)  # IoU 0.74: counts at 0.5, not at 0.75
    box = coco.coco_eval(gt, results, ids, "bbox")[0]
    assert box[1] == 1.0 and box[2] < 0.5 and box[0] < 0.8
    assert coco.coco_eval(gt, results, ids, "segm")[0][0] == 1.0, "segm ignores the boxes"
    assert coco.coco_eval(gt, [], ids, "bbox")[0][0] == 0.0


def test_subset_is_scored_on_its_own_images(shapes_folder: Path) -> None:
    gt = coco.coco_ground_truth(shapes_folder / "annotations.json")
    results, ids = _gt_as_results(shapes_folder)
    first = [r for r in results if r["image_id"] == ids[0]]
    assert coco.coco_eval(gt, first, ids[:1], "bbox")[0][0] == 1.0  # the other images' objects are not misses


def test_parse_run() -> None:
    assert ev.parse_run("fp32=a/m.onnx:ort", None) == ev.RunSpec("fp32", Path("a/m.onnx"), "ort")
    assert ev.parse_run("m.onnx", "systolic-qemu") == ev.RunSpec("m:systolic-qemu", Path("m.onnx"), "systolic-qemu")
    assert ev.parse_run("x=c:/m.onnx:systolic-native", "ort").runner == "systolic-native"
    with pytest.raises(RcnnError, match="no runner"):
        ev.parse_run("m.onnx", None)


def test_compare() -> None:
    a = [{"image_id": 1, "outputs_sha256": "x", "detections": []},
         {"image_id": 2, "outputs_sha256": "y", "detections": []}]
    assert coco.compare(a, a[:1]) == "bit-identical on 1 image(s)"
    assert coco.compare(a, [{**a[1], "outputs_sha256": "z"}]).startswith("DIFFER: raw outputs on 1 of 1")
    assert coco.compare(a, []) == "no images in common"


def test_cli_errors(tmp_path: Path, shapes_folder: Path) -> None:
    r = run_cli("rcnn.eval", "--model", tmp_path / "missing.onnx", "--data", shapes_folder, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "model not found" in r.stderr, r.stderr
    r = run_cli("rcnn.eval", "--model", "m.onnx", "--limit", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--limit" in r.stderr


@pytest.fixture(scope="module")
def tiny_maskrcnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rcnn.models import export
    from rcnn.models.detectors import ARCH, INPUT_SIZE, shapes_maskrcnn

    out = tmp_path_factory.mktemp("model") / "shapes_random.onnx"
    export.export_model(shapes_maskrcnn(), out, arch=ARCH, size=INPUT_SIZE, check=False)
    return out


def test_end_to_end_ort(tmp_path: Path, shapes_folder: Path, tiny_maskrcnn: Path) -> None:
    summary, dets = tmp_path / "summary.json", tmp_path / "dets.json"
    r = run_cli("rcnn.eval", "--run", f"a={tiny_maskrcnn}:ort", "--run", f"b={tiny_maskrcnn}", "--runner", "ort",
                "--data", shapes_folder, "--limit", "2", "-j", "1", "-q", "--json", summary, "--detections", dets,
                cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "first 2 of 5 images" in r.stdout and "a vs b: bit-identical on 2 image(s)" in r.stdout, r.stdout
    doc = json.loads(summary.read_text())
    assert [s["label"] for s in doc["runs"]] == ["a", "b"] and doc["images"] == 2 and doc["of_images"] == 5
    for s in doc["runs"]:
        assert s["images"] == 2 and s["detections"] > 0
        for kind in ("box", "mask"):
            assert set(s[kind]) == set(coco.STATS) and all(v == -1 or 0 <= v <= 1 for v in s[kind].values())
    per_image = json.loads(dets.read_text())["runs"][0]["images"]
    ids = {i["id"] for i in json.loads((shapes_folder / "annotations.json").read_text())["images"][:2]}
    assert {i["image_id"] for i in per_image} == ids
    d = per_image[0]["detections"][0]
    assert set(d) >= {"image_id", "category_id", "bbox", "score", "segmentation"} and 1 <= d["category_id"] <= 3
    # Two worker processes, checked against the file just written.
    r = run_cli("rcnn.eval", "--run", f"a={tiny_maskrcnn}:ort", "--data", shapes_folder, "--limit", "2", "-j", "2",
                "-q", "--compare-to", dets, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "a vs a in --compare-to: bit-identical on 2 image(s)" in r.stdout, r.stdout
