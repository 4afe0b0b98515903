"""python -m rcnn.train_shapes: train the built-in demo Mask R-CNN on synthetic shapes, then package it.

Stage 1 (train, on the CPU): the small Mask R-CNN of rcnn.detectors learns circles, squares and triangles from
rcnn.shapes images generated on the fly (batch 4, AdamW, linear warm-up then cosine decay, gradient clipping),
seeded. The checkpoint and loss log go to --work; an existing checkpoint is reused unless --retrain.
Stage 2 (package, through the project's own pipeline): rcnn.export (BN folded, masks left per box) → rcnn.optimize
--replace_gemm → rcnn.dataset on 32 calibration images → rcnn.calibrate --mode=int --moving-average → the FP32 and
int8 models, class names, demo images with their ground truth and the training figure in --out.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rcnn import paths
from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.files import atomic_write
from rcnn.plots import pyplot, save_png
from rcnn.shapes import CALIB_SEED, CLASSES, DEMO_SEED, TRAIN_SEED, make_sample, write_coco_folder

DEFAULT_ITERATIONS = 1200
CALIBRATION_IMAGES = 32
DEMO_IMAGES = 4
FP32_NAME, INT8_NAME = "shapes_fp32.onnx", "shapes_int8.onnx"
BATCH = 4
WARMUP = 100  # iterations of linear warm-up (a tenth of the run when it is shorter than 1000)


def default_work_dir() -> Path:
    return paths.build_dir() / "shapes"


def default_out_dir() -> Path:
    return paths.MODELS_DIR / "shapes"


def _batch(step: int) -> tuple[list, list]:
    import torch

    images, targets = [], []
    for k in range(BATCH):
        s = make_sample(TRAIN_SEED, step * BATCH + k)
        images.append(torch.from_numpy(s.image).permute(2, 0, 1).float().div_(255))
        targets.append({"boxes": torch.from_numpy(s.boxes), "labels": torch.from_numpy(s.labels),
                        "masks": torch.from_numpy(s.masks.astype(np.uint8))})
    return images, targets


def learning_rate(step: int, total: int, peak: float) -> float:
    warmup = min(WARMUP, max(1, total // 10))
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(work: Path, iterations: int, seed: int = 0, threads: int = 2, lr: float = 1e-3,
          progress: bool = True) -> Path:
    """Trains from scratch; writes work/checkpoint.pt and work/train_log.json; returns the checkpoint path."""
    # OpenMP's spinning threads slow training ~8x whenever another process holds a core; sleeping ones don't.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    from tqdm import tqdm

    from rcnn.detectors import shapes_maskrcnn

    work.mkdir(parents=True, exist_ok=True)  # before the long part: an unusable --work fails at once
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = shapes_maskrcnn()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    log: list[dict] = []
    start = time.monotonic()
    bar = tqdm(range(iterations), desc="train", unit="it", disable=not progress)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, iterations, lr)
        images, targets = _batch(step)
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        entry = {"step": step, "seconds": round(time.monotonic() - start, 2), "loss": float(loss.detach())}
        entry.update({k: round(float(v.detach()), 5) for k, v in losses.items()})
        log.append(entry)
        bar.set_postfix(loss=f"{entry['loss']:.3f}")
    ckpt = work / "checkpoint.pt"
    tmp = ckpt.with_suffix(".pt.tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(ckpt)
    atomic_write(work / "train_log.json", json.dumps({"iterations": iterations, "batch": BATCH, "seed": seed,
                                                      "threads": threads, "log": log}).encode())
    return ckpt


def plot_training(log_path: Path, out: Path) -> None:
    """Loss curves (total and per head, smoothed) against iterations, as a PNG."""
    plt = pyplot()

    run = json.loads(log_path.read_text())
    log = run["log"]
    steps = np.array([e["step"] for e in log])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = max(1, min(25, len(log)))  # a short run still gets a curve
    for key in ["loss", *[k for k in log[0] if k.startswith("loss_")]]:
        y = np.convolve([e[key] for e in log], np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], y, label=key, lw=2 if key == "loss" else 1)
    ax.set_yscale("log")
    minutes = log[-1]["seconds"] / 60
    ax.set_xlabel(f"iteration (batch {run['batch']}); {minutes:.1f} min on {run['threads']} CPU threads")
    ax.set_ylabel(f"training loss ({window}-iteration mean)")
    ax.set_title("demo Mask R-CNN on synthetic shapes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, out)


def package(ckpt: Path, work: Path, out: Path, progress: bool = True,
            calibration_images: int = CALIBRATION_IMAGES) -> tuple[Path, Path]:
    """Checkpoint → FP32 and int8 ONNX in `out`, through rcnn.export, rcnn.optimize, rcnn.dataset, rcnn.calibrate."""
    import torch

    from rcnn import calibrate, dataset, optimize
    from rcnn.detectors import ARCH, INPUT_SIZE, shapes_maskrcnn
    from rcnn.export import export_model

    quiet = [] if progress else ["-q"]
    out.mkdir(parents=True, exist_ok=True)
    model = shapes_maskrcnn()
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True))
    model.eval()
    fp32 = out / FP32_NAME
    report = export_model(model, fp32, arch=ARCH, size=INPUT_SIZE, class_names=CLASSES)
    print(f"exported {fp32}: {report}")
    optimized = work / "shapes_opt.onnx"
    optimize.main(["--input", str(fp32), "--output", str(optimized), "--replace_gemm"])
    write_coco_folder(work / "calib", calibration_images, CALIB_SEED, progress=progress)
    dataset.main(["--images", str(work / "calib" / "images"), "--out", str(work / "calib_data"), "-p", "none",
                  "--model", str(optimized), *quiet])
    int8 = out / INT8_NAME
    calibrate.main(["--model_path", str(optimized), "--dataset_path", str(work / "calib_data"),
                    "--output_model_path", str(int8), "--static=True", "--data_preprocess=torchvision", "--mode=int",
                    "--moving-average",
                    *quiet])
    write_coco_folder(out / "demo", DEMO_IMAGES, DEMO_SEED, progress=progress)
    plot_training(work / "train_log.json", out / "training.png")
    return fp32, int8


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
    fp32, int8 = package(ckpt, work, a.out or default_out_dir(), progress=not a.quiet,
                         calibration_images=a.calibration_images)
    print(f"wrote {fp32} and {int8}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.train_shapes", main))
