"""Detector outputs → annotated.png and COCO-style detections.json (the library of python -m rcnn.postprocess).

Reads boxes, labels, scores and masks (torchvision output names, else found by dtype and shape, as in the ONNX
model-zoo Mask R-CNN) from a run directory of python -m rcnn.run, or from --outputs with --image. Boxes and masks are
mapped back through the preprocessing resize to the original image; per-box 28x28 masks are pasted into their boxes,
full-size masks are resized. detections.json is a COCO results list with bbox [x,y,w,h] in image pixels and
segmentation as compressed COCO RLE.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rcnn.detection import rle
from rcnn.detection.coco_names import COCO_81, COCO_81_IDS, COCO_91
from rcnn.detection.detections import Detections, RawDetections, find_detection_outputs, to_image_space
from rcnn.detection.draw import draw
from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.runtime.preprocess import load_rgb, target_hw
from rcnn.runtime.runner import read_outputs
from rcnn.runtime.tensors import load_tensor

CLASSES_KEY = "rcnn.classes"
ANNOTATE_MIN_SIDE = 512  # smaller images are drawn enlarged (integer factor) so labels stay readable


@dataclass(frozen=True)
class Classes:
    """Label → name, and label → the category_id written to detections.json."""

    names: tuple[str, ...]
    category_ids: tuple[int, ...] | None = None  # None: the label is the category id

    def category_id(self, label: int) -> int:
        if self.category_ids is not None and 0 <= label < len(self.category_ids):
            return self.category_ids[label]
        return label

    def name(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else f"class {label}"


COCO = Classes(COCO_91)
COCO80 = Classes(COCO_81, COCO_81_IDS)


def _name_list(text: str, source: str) -> tuple[str, ...]:
    try:
        names = json.loads(text)
    except json.JSONDecodeError as e:
        raise RcnnError(f"{source} is not JSON: {e}") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RcnnError(f"{source} must be a JSON list of class names (index = label)")
    return tuple(names)


def resolve_classes(choice: str | None, metadata: dict[str, str]) -> Classes:
    """--classes: coco (91-index, torchvision), coco80 (contiguous, model zoo), a JSON file; default the model's
    rcnn.classes metadata, else coco."""
    if choice == "coco":
        return COCO
    if choice == "coco80":
        return COCO80
    if choice is not None:
        path = Path(choice)
        try:
            return Classes(_name_list(path.read_text(), str(path)))
        except OSError as e:
            raise RcnnError(f"cannot read class names {path}: {e.strerror or e}") from None
    if CLASSES_KEY in metadata:
        return Classes(_name_list(metadata[CLASSES_KEY], f"the model's {CLASSES_KEY} metadata"))
    return COCO


def to_coco(dets: Detections, classes: Classes, image_id: int = 0) -> list[dict]:
    """COCO results entries: bbox [x,y,w,h] in image pixels, segmentation as compressed RLE (when there are masks)."""
    results = []
    for k in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in dets.boxes[k])
        label = int(dets.labels[k])
        entry = {
            "image_id": image_id,
            "category_id": classes.category_id(label),
            "category_name": classes.name(label),
            "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
            "score": round(float(dets.scores[k]), 5),
        }
        if dets.masks is not None:
            entry["segmentation"] = rle.encode(dets.masks[k])
        results.append(entry)
    return results


def write_results(out_dir: Path, rgb: np.ndarray, dets: Detections, classes: Classes,
                  image_id: int = 0, min_side: int = 0) -> tuple[Path, Path]:
    """out_dir/annotated.png (enlarged to min_side, see draw) and out_dir/detections.json (in the image's own
    pixels), each written atomically."""
    buf = io.BytesIO()
    draw(rgb, dets, classes.names, min_side).save(buf, format="PNG")
    png, js = out_dir / "annotated.png", out_dir / "detections.json"
    atomic_write(png, buf.getvalue())
    atomic_write(js, (json.dumps(to_coco(dets, classes, image_id), indent=1) + "\n").encode())
    return png, js


def image_id_of(path: Path) -> int:
    """COCO file names are the image id (000000397133.jpg → 397133); anything else is image 0."""
    digits = re.fullmatch(r"\D*(\d+)", path.stem)
    return int(digits.group(1)) if digits else 0


def _fed_input_hw(out_dir: Path) -> tuple[int, int] | None:
    """HxW of the image tensor rcnn.run fed the model (input_0.pb in the run directory), if it is there."""
    path = out_dir / "input_0.pb"
    if not path.is_file():
        return None
    shape = load_tensor(path)[0].shape
    return (shape[-2], shape[-1]) if len(shape) in (3, 4) and shape[-3] == 3 else None


def read_run_json(run_dir: Path) -> dict:
    """run.json of a run directory of python -m rcnn.run."""
    path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise RcnnError(f"run directory not found: {run_dir}")
    if not path.is_file():
        raise RcnnError(f"not a run directory (no run.json): {run_dir}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RcnnError(f"cannot read {path}: {e}") from None


def read_run_outputs(out_dir: Path) -> dict[str, np.ndarray]:
    """The outputs a run directory (or an ort_test output directory) holds, by name."""
    if not (out_dir / "outputs.json").is_file():
        raise RcnnError(f"no outputs.json in {out_dir}")
    try:
        return read_outputs(out_dir)[1]
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise RcnnError(f"cannot read {out_dir / 'outputs.json'}: {type(e).__name__}: {e}") from None


@dataclass
class Postprocessed:
    """What postprocess_outputs did: the kept detections, the raw ones, sizes and the files written."""

    dets: Detections
    raw: RawDetections
    classes: Classes
    input_hw: tuple[int, int]
    image_hw: tuple[int, int]
    png: Path
    json: Path


def postprocess_outputs(out_dir: Path, run: dict, image: Path | None, model: Path | None,
                        input_size: tuple[int, int] | None, score_threshold: float, classes: str | None,
                        image_id: int | None, write_to: Path) -> Postprocessed:
    """Detections of the outputs in `out_dir` mapped to the image and written to `write_to` (annotated.png,
    detections.json). `run` is the run's run.json ({} without one): it names the image and model when not given."""
    outputs = read_run_outputs(out_dir)
    raw = find_detection_outputs(outputs)
    given_image = image is not None
    image = image or (Path(run["image"]) if run.get("image") else None)
    if image is None:
        raise RcnnError("no image: the run was not fed one; give --image")
    if not given_image and not image.is_file():
        # run.json keeps the path as rcnn.run was given it, relative to where that ran.
        raise RcnnError(f"image not found: {image} (named by run.json); give --image")
    rgb = load_rgb(image)
    image_hw = (int(rgb.shape[0]), int(rgb.shape[1]))

    given_model = model is not None
    model = model or (Path(run["model"]) if run.get("model") else None)
    info = read_model_info(model) if model is not None and (given_model or model.is_file()) else None
    if input_size:
        input_hw = input_size
    elif info is not None and info.inputs:
        input_hw = target_hw(info.inputs[0].dims, image_hw)
    else:
        input_hw = _fed_input_hw(out_dir) or image_hw

    names = resolve_classes(classes, info.metadata if info else {})
    dets = to_image_space(raw, input_hw, image_hw, score_threshold)
    png, js = write_results(write_to, rgb, dets, names, image_id if image_id is not None else image_id_of(image),
                            ANNOTATE_MIN_SIDE)
    return Postprocessed(dets, raw, names, input_hw, image_hw, png, js)
