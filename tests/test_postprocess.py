"""rcnn.postprocess: detector outputs → image-space detections, annotated.png and COCO detections.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from rcnn.detection import rle
from rcnn.detection.coco_names import COCO_81, COCO_81_IDS, COCO_91
from rcnn.detection.detections import (
    RawDetections,
    find_detection_outputs,
    looks_like_detections,
    paste_mask,
    scale_boxes,
    to_image_space,
)
from rcnn.detection.postprocess import COCO, COCO80, Classes, resolve_classes, to_coco, write_results
from rcnn.errors import RcnnError
from rcnn.runtime.tensors import save_tensor

from conftest import run_cli


def raw(boxes: list[list[float]], labels: list[int], scores: list[float], masks: np.ndarray | None) -> RawDetections:
    return RawDetections(np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64),
                         np.array(scores, np.float32), masks, {})


# --- masks ---------------------------------------------------------------------------------------------------------

def test_all_ones_box_mask_covers_exactly_the_box() -> None:
    m = paste_mask(np.ones((28, 28), np.float32), np.array([10, 20, 30, 40]), (60, 50))
    expected = np.zeros((60, 50), bool)
    expected[20:40, 10:30] = True
    np.testing.assert_array_equal(m, expected)


def test_half_ones_box_mask_covers_the_left_half() -> None:
    prob = np.zeros((28, 28), np.float32)
    prob[:, :14] = 1
    m = paste_mask(prob, np.array([10, 20, 30, 40]), (60, 50))
    assert m[20:40, 10:20].all() and not m[:, 20:].any() and not m[:, :10].any()
    assert m.sum() == 20 * 10


def test_fractional_box_stays_inside_and_degenerate_box_is_empty() -> None:
    m = paste_mask(np.ones((28, 28), np.float32), np.array([3.3, 4.6, 17.2, 9.4]), (20, 20))
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (3, 16, 5, 8)  # pixel centres inside the box
    assert not paste_mask(np.ones((28, 28)), np.array([5, 5, 5, 9]), (20, 20)).any()


def test_full_size_masks_pass_through_without_resize() -> None:
    full = np.zeros((1, 1, 48, 64), np.float32)
    full[0, 0, 5:15, 7:30] = 0.9
    full[0, 0, 30:40, 40:50] = 0.4  # below the mask threshold
    d = to_image_space(raw([[7, 5, 30, 15]], [1], [0.9], full), (48, 64), (48, 64))
    np.testing.assert_array_equal(d.masks[0], full[0, 0] > 0.5)


def test_full_size_masks_follow_a_resize() -> None:
    full = np.zeros((1, 1, 32, 32), np.float32)
    full[0, 0, 8:16, 8:24] = 1  # input 32x32 → image 64x96 (x3 in x, x2 in y)
    d = to_image_space(raw([[8, 8, 24, 16]], [1], [0.9], full), (32, 32), (64, 96))
    ys, xs = np.nonzero(d.masks[0])
    assert abs(ys.min() - 16) <= 1 and abs(ys.max() - 31) <= 1 and abs(xs.min() - 24) <= 1 and abs(xs.max() - 71) <= 1


def test_box_masks_paste_in_image_space_after_a_resize() -> None:
    d = to_image_space(raw([[10, 20, 30, 40]], [1], [0.9], np.ones((1, 1, 28, 28), np.float32)), (64, 64), (96, 128))
    np.testing.assert_allclose(d.boxes[0], [20, 30, 60, 60])
    ys, xs = np.nonzero(d.masks[0])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (20, 59, 30, 59)


def test_large_masks_of_the_wrong_size_are_an_error() -> None:
    with pytest.raises(RcnnError, match="neither the model input"):
        to_image_space(raw([[0, 0, 4, 4]], [1], [0.9], np.ones((1, 1, 200, 300), np.float32)), (64, 64), (64, 64))


# --- boxes, scores, names ------------------------------------------------------------------------------------------

def test_boxes_scale_through_a_resize_and_not_without_one() -> None:
    b = np.array([[8, 16, 32, 48]], np.float32)
    np.testing.assert_allclose(scale_boxes(b, (64, 64), (96, 128)), [[16, 24, 64, 72]])  # x*128/64, y*96/64
    np.testing.assert_allclose(scale_boxes(b, (96, 128), (96, 128)), b)


def test_score_threshold_filters_and_sorts() -> None:
    r = raw([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]], [1, 2, 3], [0.3, 0.9, 0.6], None)
    d = to_image_space(r, (8, 8), (8, 8), score_threshold=0.5)
    assert d.labels.tolist() == [2, 3] and d.masks is None
    assert len(to_image_space(r, (8, 8), (8, 8), score_threshold=0.0)) == 3


def test_coco_label_spaces() -> None:
    assert len(COCO_91) == 91 and COCO_91[1] == "person" and COCO_91[12] == "N/A" and COCO_91[90] == "toothbrush"
    assert len(COCO_81) == 81 and COCO_81[80] == "toothbrush" and COCO_81_IDS[80] == 90
    assert COCO_81[COCO_81_IDS.index(13)] == "stop sign" == COCO_91[13]
    assert COCO80.category_id(12) == 13 and COCO.category_id(13) == 13


def test_class_names_from_metadata_file_and_default(tmp_path: Path) -> None:
    assert resolve_classes(None, {"rcnn.classes": '["bg", "circle", "square"]'}).names == ("bg", "circle", "square")
    assert resolve_classes(None, {}) is COCO
    assert resolve_classes("coco", {"rcnn.classes": '["bg"]'}) is COCO
    f = tmp_path / "names.json"
    f.write_text('["bg", "cat"]')
    assert resolve_classes(str(f), {}).name(1) == "cat" and resolve_classes(str(f), {}).name(7) == "class 7"
    with pytest.raises(RcnnError, match="JSON list"):
        resolve_classes(None, {"rcnn.classes": '{"a": 1}'})


def test_outputs_found_by_name_or_by_dtype_and_shape() -> None:
    n = 3
    zoo = {"6568": np.zeros((n, 4), np.float32), "6570": np.ones(n, np.int64), "6572": np.full(n, 0.7, np.float32),
           "6887": np.zeros((n, 1, 28, 28), np.float32)}
    r = find_detection_outputs(zoo)
    assert r.names == {"boxes": "6568", "labels": "6570", "scores": "6572", "masks": "6887"}
    assert looks_like_detections(zoo)
    tv = {"masks": np.zeros((n, 1, 8, 8), np.float32), "scores": np.ones(n, np.float32),
          "labels": np.ones(n, np.int64), "boxes": np.zeros((n, 4), np.float32), "extra": np.ones(5, np.float32)}
    assert find_detection_outputs(tv).names == {r: r for r in ("boxes", "labels", "scores", "masks")}
    logits = {"logits": np.zeros((1, 10), np.float32)}
    assert not looks_like_detections(logits)
    with pytest.raises(RcnnError, match="no detection outputs"):
        find_detection_outputs(logits)
    with pytest.raises(RcnnError, match="disagree"):
        find_detection_outputs({**zoo, "6570": np.ones(n + 1, np.int64)})


# --- RLE and results -----------------------------------------------------------------------------------------------

def test_rle_round_trip_and_known_strings() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 5), (40, 33)]:
        for density in (0.0, 0.1, 0.5, 1.0):
            m = rng.random(shape) < density
            enc = rle.encode(m)
            assert enc["size"] == list(shape) and isinstance(enc["counts"], str)
            np.testing.assert_array_equal(rle.decode(enc), m)
    blob = np.zeros((300, 200), bool)  # long runs and negative deltas
    blob[50:250, 20:180] = True
    np.testing.assert_array_equal(rle.decode(rle.encode(blob)), blob)
    # Column-major runs [1,3] → "13"; runs [0,5,2,1] → "05" "2" then delta 1-5=-4 → chr(48 + (-4 & 31)) = "L".
    assert rle.encode(np.array([[False, True], [True, True]]))["counts"] == "13"
    assert rle.encode(np.array([[True] * 5 + [False] * 2 + [True]]).reshape(2, 4, order="F"))["counts"] == "052L"
    assert rle.decode({"size": [2, 2], "counts": [1, 3]}).tolist() == [[False, True], [True, True]]


def test_coco_entries() -> None:
    masks = np.zeros((1, 10, 12), bool)
    masks[0, 2:5, 3:9] = True
    d = to_image_space(raw([[3, 2, 9, 5]], [12], [0.87654321], None), (10, 12), (10, 12))
    d.masks = masks
    (e,) = to_coco(d, COCO80, image_id=42)
    assert e["image_id"] == 42 and e["category_id"] == 13 and e["category_name"] == "stop sign"
    assert e["bbox"] == [3, 2, 6, 3] and e["score"] == pytest.approx(0.87654, abs=1e-5)
    np.testing.assert_array_equal(rle.decode(e["segmentation"]), masks[0])


def _scene(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 2) % 256, (yy * 2) % 256, np.full_like(xx, 90)], axis=-1).astype(np.uint8)


def test_annotated_png_changes_the_boxes_not_the_rest(tmp_path: Path) -> None:
    rgb = _scene()
    r = raw([[20, 20, 50, 50]], [1], [0.9], np.ones((1, 1, 28, 28), np.float32))  # input 64x64 → image 96x128
    d = to_image_space(r, (64, 64), (96, 128))
    png, js = write_results(tmp_path, rgb, d, Classes(("bg", "thing")))
    out = np.asarray(Image.open(png).convert("RGB"))
    assert out.shape == rgb.shape
    changed = (out != rgb).any(axis=-1)
    assert changed[30:75, 40:100].all()  # the box in the image is x 40..100, y 30..75: all tinted
    assert not changed[:, 110:].any() and not changed[:10, :].any() and not changed[85:, :].any()
    assert not changed[40:, :30].any()  # far outside the box and its label (above it)
    results = json.loads(js.read_text())
    assert results[0]["bbox"] == [40, 30, 60, 45] and results[0]["category_name"] == "thing"
    assert rle.decode(results[0]["segmentation"]).sum() == 60 * 45
    big = np.asarray(Image.open(write_results(tmp_path / "big", rgb, d, Classes(("bg", "thing")), min_side=300)[0]))
    assert big.shape == (288, 384, 3)  # 96x128 enlarged 3x (the smallest integer factor reaching 300)
    assert (big[::3, ::3][~changed] == rgb[~changed]).all()  # outside the drawing: the same pixels, repeated
    assert json.loads((tmp_path / "big" / "detections.json").read_text())[0]["bbox"] == [40, 30, 60, 45]


# --- CLI -----------------------------------------------------------------------------------------------------------

def _model(path: Path, hw: tuple[int, int] | None, classes: list[str] | None) -> Path:
    dims = ["H", "W"] if hw is None else list(hw)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [3, *dims])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, *dims])
    m = helper.make_model(helper.make_graph([helper.make_node("Identity", ["image"], ["y"])], "g", [x], [y]))
    if classes is not None:
        helper.set_model_props(m, {"rcnn.classes": json.dumps(classes)})
    onnx.save(m, str(path))
    return path


def _run_dir(d: Path, outputs: dict[str, np.ndarray], image: Path, model: Path | None) -> Path:
    d.mkdir(parents=True)
    entries = []
    for k, (name, a) in enumerate(outputs.items()):
        save_tensor(a, d / f"output_{k}.pb", name)
        entries.append({"name": name, "file": f"output_{k}.pb", "dtype": str(a.dtype), "shape": list(a.shape)})
    (d / "outputs.json").write_text(json.dumps({"outputs": entries}))
    (d / "run.json").write_text(json.dumps({"model": str(model) if model else None, "image": str(image),
                                            "preprocess": "torchvision"}))
    return d


def _torchvision_outputs() -> dict[str, np.ndarray]:
    masks = np.zeros((2, 1, 64, 64), np.float32)
    masks[0, 0, 20:40, 10:30] = 0.95
    return {"boxes": np.array([[10, 20, 30, 40], [0, 0, 5, 5]], np.float32), "labels": np.array([2, 1], np.int64),
            "scores": np.array([0.9, 0.2], np.float32), "masks": masks}


def test_cli_run_dir_with_model_metadata(tmp_path: Path) -> None:
    image = tmp_path / "000000000123.png"
    Image.fromarray(_scene()).save(image)
    model = _model(tmp_path / "m.onnx", (64, 64), ["bg", "circle", "square"])
    run = _run_dir(tmp_path / "run", _torchvision_outputs(), image, model)
    r = run_cli("rcnn.postprocess", "--run", run, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 of 2 detections" in r.stdout and "square 0.90" in r.stdout
    (e,) = json.loads((run / "detections.json").read_text())
    assert e["image_id"] == 123 and e["category_id"] == 2 and e["category_name"] == "square"
    assert e["bbox"] == [20, 30, 40, 30]  # x*128/64, y*96/64
    assert (run / "annotated.png").is_file()


def test_cli_outputs_dir_zoo_layout_and_flags(tmp_path: Path) -> None:
    image = tmp_path / "scene.png"
    Image.fromarray(_scene()).save(image)
    zoo = {"6568": np.array([[10, 20, 30, 40]], np.float32), "6570": np.array([12], np.int64),
           "6572": np.array([0.8], np.float32), "6887": np.ones((1, 1, 28, 28), np.float32)}
    outs = _run_dir(tmp_path / "outs", zoo, image, None)
    r = run_cli("rcnn.postprocess", "--outputs", outs, "--image", image, "--classes", "coco80", "--score-threshold",
                "0.7", "-o", tmp_path / "res", cwd=tmp_path)  # no model, no input_0.pb: input = image size
    assert r.returncode == 0, r.stderr
    (e,) = json.loads((tmp_path / "res" / "detections.json").read_text())
    assert e["category_id"] == 13 and e["category_name"] == "stop sign" and e["image_id"] == 0
    assert e["bbox"] == [10, 20, 20, 20] and rle.decode(e["segmentation"]).sum() == 400
    r = run_cli("rcnn.postprocess", "--outputs", outs, "--image", image, "--input-size", "48x64", "-o",
                tmp_path / "res2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "res2" / "detections.json").read_text())[0]["bbox"] == [20, 40, 40, 40]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    image = tmp_path / "scene.png"
    Image.fromarray(_scene()).save(image)
    r = run_cli("rcnn.postprocess", "--run", tmp_path / "nope", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == f"rcnn.postprocess: error: run directory not found: {tmp_path / 'nope'}"
    run = _run_dir(tmp_path / "run", {"logits": np.zeros((1, 10), np.float32)}, image, None)
    r = run_cli("rcnn.postprocess", "--run", run, cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "no detection outputs" in r.stderr
    assert not (run / "annotated.png").exists()
    r = run_cli("rcnn.postprocess", "--run", run, "--input-size", "big", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
