"""python -m rcnn.postprocess: detector outputs → annotated.png and COCO-style detections.json.

Reads boxes, labels, scores and masks (torchvision output names, else found by dtype and shape, as in the ONNX
model-zoo Mask R-CNN) from a run directory of python -m rcnn.run, or from --outputs with --image. Boxes and masks are
mapped back through the preprocessing resize to the original image; per-box 28x28 masks are pasted into their boxes,
full-size masks are resized. detections.json is a COCO results list with bbox [x,y,w,h] in image pixels and
segmentation as compressed COCO RLE.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, UsageError, run_cli
from rcnn.detection.draw import label_text
from rcnn.detection.postprocess import CLASSES_KEY, postprocess_outputs, read_run_json
from rcnn.errors import RcnnError


def parse_hw(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", text)
    if not m or not int(m.group(1)) or not int(m.group(2)):
        raise argparse.ArgumentTypeError(f"wants HxW, e.g. 800x800, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.postprocess", description=__doc__, formatter_class=HelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=Path, metavar="DIR",
                     help="a run directory of python -m rcnn.run (its run.json names the model and image)")
    src.add_argument("--outputs", type=Path, metavar="DIR",
                     help="a directory with outputs.json and output_K.pb (needs --image)")
    p.add_argument("-i", "--image", type=Path, default=None,
                   help="the original image (default: the one run.json names)")
    p.add_argument("-m", "--model", type=Path, default=None,
                   help="the ONNX model, for its input size and class-name metadata (default: run.json's model)")
    p.add_argument("--input-size", type=parse_hw, default=None, metavar="HxW",
                   help="the model input's HxW, when neither the model nor the run's input_0.pb can tell it "
                        "(default: model input dims, else input_0.pb, else the image's own size)")
    p.add_argument("--score-threshold", type=float, default=0.5, help="keep detections scoring at least this")
    p.add_argument("--classes", default=None, metavar="coco|coco80|FILE.json",
                   help="class names: coco = the 91-index COCO list (torchvision; label = COCO category id), coco80 "
                        "= background + 80 contiguous (model zoo), or a JSON list file. Default: the model's "
                        f"{CLASSES_KEY} metadata, else coco")
    p.add_argument("--image-id", type=int, default=None,
                   help="image_id in detections.json (default: the digits of a COCO file name, else 0)")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="directory for annotated.png and detections.json (default: the run/outputs directory)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.score_threshold < 0 or a.score_threshold > 1:
        raise UsageError("--score-threshold must be in [0, 1]")
    out_dir: Path = a.run or a.outputs
    run = read_run_json(a.run) if a.run else {}
    if a.outputs and not a.outputs.is_dir():
        raise RcnnError(f"outputs directory not found: {a.outputs}")
    r = postprocess_outputs(out_dir, run, a.image, a.model, a.input_size, a.score_threshold, a.classes, a.image_id,
                            a.out or out_dir)
    raw, dets, input_hw, image_hw = r.raw, r.dets, r.input_hw, r.image_hw
    layout = "no masks" if raw.masks is None else f"masks {list(raw.masks.shape[1:])}"
    print(f"{len(dets)} of {len(raw.scores)} detections score >= {a.score_threshold:g} "
          f"(outputs {', '.join(raw.names.values())}; {layout}; input {input_hw[0]}x{input_hw[1]} → image "
          f"{image_hw[0]}x{image_hw[1]})")
    for k in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in dets.boxes[k])
        print(f"  {label_text(int(dets.labels[k]), float(dets.scores[k]), r.classes.names):<28} "
              f"[{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    print(f"  wrote {r.png} and {r.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.postprocess", main))
