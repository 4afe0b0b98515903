"""COCO box and mask AP with pycocotools: datasets (a COCO instances file and its images), the evaluation, and the
per-image records two runs are compared by. Used by rcnn.tools.evaluate (python -m rcnn.eval)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcnn.errors import RcnnError

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
IOU_TYPES = {"box": "bbox", "mask": "segm"}


@dataclass(frozen=True)
class Dataset:
    annotations: Path
    images_dir: Path
    images: tuple[dict, ...]  # COCO image entries (id, file_name, ...), in the file's order

    @property
    def name(self) -> str:
        return str(self.annotations.parent if self.annotations.name == "annotations.json" else self.annotations)


def load_dataset(annotations: Path, images_dir: Path) -> Dataset:
    try:
        doc = json.loads(annotations.read_text())
    except OSError as e:
        raise RcnnError(f"cannot read annotations {annotations}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise RcnnError(f"annotations {annotations} are not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or "annotations" not in doc:
        raise RcnnError(f"{annotations} is not a COCO instances file (no images/annotations lists)")
    if not doc["images"]:
        raise RcnnError(f"{annotations} lists no images")
    return Dataset(annotations, images_dir, tuple(doc["images"]))


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """pycocotools prints progress and its summary on stdout: capture it."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield buf


def coco_ground_truth(annotations: Path) -> Any:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        raise RcnnError("rcnn.eval needs pycocotools (pip install pycocotools)") from None
    with _quiet():
        return COCO(str(annotations))


def coco_eval(gt: Any, detections: list[dict], image_ids: Sequence[int], iou: str) -> tuple[list[float], str]:
    """COCOeval stats (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl) in [0,1], -1 where there is
    no ground truth, and the printed summary. No detections at all scores 0."""
    from pycocotools.cocoeval import COCOeval

    if iou == "segm":  # area and bbox from the mask itself, not the box (loadRes takes a bbox key as a box result)
        detections = [{k: v for k, v in d.items() if k != "bbox"} for d in detections if "segmentation" in d]
    else:
        detections = [dict(d) for d in detections]  # loadRes adds keys (area, id, ...) to the dicts it is given
    if not detections:
        return [0.0] * len(STATS), "no detections"
    with _quiet() as out:
        ev = COCOeval(gt, gt.loadRes(detections), iou)
        ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats], out.getvalue()


def compare(a: list[dict], b: list[dict]) -> str:
    """Per-image records ({image_id, outputs_sha256, detections}) of two runs on the images they share."""
    by_id = {r["image_id"]: r for r in b}
    common = [r for r in a if r["image_id"] in by_id]
    if not common:
        return "no images in common"
    differ = [r["image_id"] for r in common if r["outputs_sha256"] != by_id[r["image_id"]]["outputs_sha256"]]
    if not differ:
        return f"bit-identical on {len(common)} image(s)"
    dets = sum(r["detections"] != by_id[r["image_id"]]["detections"] for r in common)
    return (f"DIFFER: raw outputs on {len(differ)} of {len(common)} image(s) (first image id {differ[0]}), "
            f"detections on {dets}")


def read_detections_file(path: Path) -> dict[str, dict]:
    try:
        doc = json.loads(path.read_text())
        return {r["label"]: r for r in doc["runs"]}
    except OSError as e:
        raise RcnnError(f"cannot read {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RcnnError(f"{path} is not an rcnn.eval --detections file: {e}") from None
