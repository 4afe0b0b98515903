"""python -m rcnn.train_shapes: train the built-in demo Mask R-CNN on synthetic shapes, then package it.

Stage 1 (train, on the CPU): the small Mask R-CNN of rcnn.models.detectors learns circles, squares and triangles from
rcnn.shapes images generated on the fly (batch 4, AdamW, linear warm-up then cosine decay, gradient clipping),
seeded. The checkpoint and loss log go to --work; an existing checkpoint is reused unless --retrain.
Stage 2 (package, through the project's own pipeline): rcnn.export (BN folded, masks left per box) → rcnn.optimize
--replace_gemm → rcnn.dataset on 32 calibration images → rcnn.calibrate --mode=int --moving-average → the FP32 and
int8 models, class names, demo images with their ground truth and the training figure in --out.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.models.training import (
    BATCH,
    CALIBRATION_IMAGES,
    DEFAULT_ITERATIONS,
    default_out_dir,
    default_work_dir,
    package,
    train,
)
from rcnn.tools.plots import plot_training


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.train_shapes", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--work", type=Path, default=None,
                   help="folder for the checkpoint, loss log and intermediate models (default: build/shapes)")
    p.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help=f"training steps of {BATCH} images")
    p.add_argument("--seed", type=int, default=0, help="torch seed (the data are seeded by rcnn.shapes)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--out", type=Path, default=None,
                   help="where the packaged models, demo images and figures go (default: the package's "
                        "models/shapes, python/rcnn/models/shapes in the source tree)")
    p.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES,
                   help="synthetic images (their own seed) that calibrate the int8 model")
    p.add_argument("--retrain", action="store_true", help="train even when --work has a checkpoint")
    p.add_argument("--train-only", action="store_true", help="stop after training (no export/quantization)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.iterations < 1 or a.calibration_images < 1:
        p.error("--iterations and --calibration-images must be >= 1")
    work = a.work or default_work_dir()
    ckpt = work / "checkpoint.pt"
    if a.retrain or not ckpt.is_file():
        ckpt = train(work, a.iterations, a.seed, a.threads, progress=not a.quiet)
        print(f"trained: {ckpt}")
    else:
        print(f"using the checkpoint {ckpt} (--retrain to train again)")
    if a.train_only:
        return 0
    out = a.out or default_out_dir()
    fp32, int8 = package(ckpt, work, out, progress=not a.quiet, calibration_images=a.calibration_images, log=print)
    plot_training(work / "train_log.json", out / "training.png")
    print(f"wrote {fp32} and {int8}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.train_shapes", main))
