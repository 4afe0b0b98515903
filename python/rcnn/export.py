"""python -m rcnn.export: a torchvision detector or classifier (or the project's shapes_resnet18_fpn) to ONNX.

Input contract of the exported detectors: one image `image`, float32 [3,H,W], RGB, values in [0,1], channels first,
no batch dimension. Do NOT normalise it (no mean/std): the graph contains torchvision's GeneralizedRCNNTransform,
which normalises (and resizes) itself. Normalising outside as well is what pytorch/vision#3588 ("exported Mask
R-CNN gives wrong results") was about. The model records this as metadata rcnn.preprocess=torchvision, which
rcnn.run and rcnn.native read. Classifiers take `input` float32 [1,3,H,W] (ImageNet-normalised, as in torchvision)
and give `logits`; their rcnn.preprocess is that normalisation as a spec, rgb,/255,mean=0.485:0.456:0.406,
std=0.229:0.224:0.225 (without the line break).

Detector outputs: boxes float32[N,4] (x1,y1,x2,y2 in input pixels), labels int64[N], scores float32[N] and, for
Mask R-CNN, masks. By default (--no-paste-masks) the graph ends at the per-box 28x28 mask probabilities,
masks float32[N,1,28,28], as the ONNX model-zoo Mask R-CNN does; pasting them into the image is left to the host
(rcnn.detection.detections), which saves the costly in-graph paste Loop. --paste-masks keeps torchvision's paste:
masks float32[N,1,H,W].

Steps: build (weights=None, so BatchNorm2d) and load --weights FILE (a state dict, strict) or --weights DEFAULT
(torchvision's download), or --random-init; fold FrozenBatchNorm2d / eval BatchNorm2d into the preceding
convolutions; export with the legacy TorchScript exporter (dynamo fails on NMS); refuse a graph that still holds
BatchNormalization or a per-channel Conv->Mul->Add chain; write metadata rcnn.classes (JSON list, index = label),
rcnn.preprocess, rcnn.arch; run the model in onnxruntime and in PyTorch on the same image and fail if they disagree;
write the file atomically. Nothing of torchvision is patched: only the model instance is changed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.errors import RcnnError
from rcnn.models.export import (
    DEFAULT_ARCH,
    OPSETS,
    SHAPES_ARCH,
    ExportReport,
    build_model,
    default_class_names,
    export_model,
    model_num_classes,
)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.export", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write (atomically)")
    p.add_argument("--arch", default=DEFAULT_ARCH,
                   help=f"{SHAPES_ARCH} (the project's demo Mask R-CNN) or a torchvision model name")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classes including background for detectors (default: the arch's own, or the checkpoint's)")
    w = p.add_mutually_exclusive_group(required=True)
    w.add_argument("--weights", metavar="FILE|DEFAULT",
                   help="a state dict to load (strict), or DEFAULT for torchvision's pretrained download")
    w.add_argument("--random-init", action="store_true", help="random weights (seeded): the predictions mean nothing")
    p.add_argument("--seed", type=int, default=0, help="torch seed for --random-init")
    p.add_argument("--size", type=int, default=None,
                   help="square input size H=W (default: the arch's own: 800 for torchvision detectors, 256 for "
                        f"{SHAPES_ARCH}, 224 for classifiers); with --dynamic the size used for tracing and checking")
    p.add_argument("--dynamic", action="store_true", help="dynamic H and W input axes")
    p.add_argument("--opset", type=int, default=17, help=f"ONNX opset, {OPSETS.start}..{OPSETS.stop - 1}")
    p.add_argument("--paste-masks", action=argparse.BooleanOptionalAction, default=False,
                   help="keep torchvision's in-graph mask paste (masks [N,1,H,W]); default: per-box [N,1,28,28]")
    p.add_argument("--check-image", type=Path, default=None, metavar="FILE",
                   help="image for the ONNX-vs-PyTorch check, resized to the input size (default: a seeded shapes "
                        "image)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")
    return p


def _print_report(r: ExportReport) -> None:
    ops = r.op_histogram
    print(f"  folded BatchNorm: {r.folded_bn}; nodes {sum(ops.values())}: Conv {ops.get('Conv', 0)}, "
          f"Mul {ops.get('Mul', 0)}, Add {ops.get('Add', 0)}, BatchNormalization 0")
    if r.diffs:
        print("  onnxruntime vs PyTorch max abs diff: " + ", ".join(f"{k} {v:.3g}" for k, v in r.diffs.items())
              + (f" over {r.detections} detection(s)" if r.detections is not None else ""))
    for note in r.notes:
        print(f"  note: {note}")
    shape = "x".join(str(d) for d in r.input_shape)
    print(f"wrote {r.path} ({r.file_bytes / 1e6:.1f} MB, {r.arch}, input [{shape}], outputs {', '.join(r.outputs)}, "
          f"opset {r.opset}, IR {r.ir_version}, {r.seconds:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.opset not in OPSETS:
        p.error(f"--opset must be in {OPSETS.start}..{OPSETS.stop - 1}")
    if a.size is not None and a.size < 32:
        p.error("--size must be >= 32")
    if a.weights not in (None, "DEFAULT") and not Path(a.weights).is_file():
        raise RcnnError(f"weights file not found: {a.weights}")  # before the slow torch import
    check_image = None
    if a.check_image is not None and not a.no_check:
        from rcnn.runtime.preprocess import load_rgb

        check_image = load_rgb(a.check_image)
    model = build_model(a.arch, a.num_classes, a.weights, a.random_init, a.seed)
    if a.random_init:
        print(f"random init (seed {a.seed}): the exported model's predictions are meaningless", file=sys.stderr)
    names = default_class_names(a.arch, model_num_classes(model), a.weights)
    report = export_model(model, a.output, arch=a.arch, size=a.size, dynamic=a.dynamic, opset=a.opset,
                          paste_masks=a.paste_masks, class_names=names, check=not a.no_check, check_image=check_image)
    _print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.export", main))
