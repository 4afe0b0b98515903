"""Training and packaging of the built-in demo Mask R-CNN on synthetic shapes (the library of
python -m rcnn.train_shapes).

Stage 1 (train, on the CPU): the small Mask R-CNN of rcnn.models.detectors learns circles, squares and triangles from
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
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rcnn import paths
from rcnn.files import atomic_write
from rcnn.models.synthetic import CALIB_SEED, CLASSES, DEMO_SEED, TRAIN_SEED, make_sample, write_coco_folder

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

    from rcnn.models.detectors import shapes_maskrcnn

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


def package(ckpt: Path, work: Path, out: Path, progress: bool = True,
            calibration_images: int = CALIBRATION_IMAGES,
            log: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """Checkpoint → FP32 and int8 ONNX in `out`, the project's pipeline in the order of rcnn.export, rcnn.optimize
    --replace_gemm, rcnn.dataset, rcnn.calibrate --mode=int --moving-average; plus the demo images with their ground
    truth. `log` hears one line per step."""
    import torch

    from rcnn.models.detectors import ARCH, INPUT_SIZE, shapes_maskrcnn
    from rcnn.models.export import export_model
    from rcnn.onnxgraph import gate
    from rcnn.quant.data import ZooDataReader
    from rcnn.quant.dataset import list_images, target_dims, write_dataset
    from rcnn.quant.prepare import optimize
    from rcnn.quant.quantize import QuantizeOptions, quantize_model

    say = log or (lambda text: None)
    out.mkdir(parents=True, exist_ok=True)
    model = shapes_maskrcnn()
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True))
    model.eval()
    fp32 = out / FP32_NAME
    report = export_model(model, fp32, arch=ARCH, size=INPUT_SIZE, class_names=CLASSES)
    say(f"exported {fp32}: {report}")
    optimized = work / "shapes_opt.onnx"
    opt_model, opt_report = optimize(gate.load_model(fp32), gemm=True)
    atomic_write(optimized, opt_model.SerializeToString())
    say(f"optimized {optimized}: {'; '.join(opt_report.changes) or 'nothing to change'}")
    write_coco_folder(work / "calib", calibration_images, CALIB_SEED, progress=progress)
    dims, input_name = target_dims(None, optimized, "nchw")
    count = write_dataset(list_images(work / "calib" / "images"), work / "calib_data", "none", dims,
                          input_name or "x", progress=progress)
    float_model = gate.load_model(optimized)
    reader = ZooDataReader(float_model, work / "calib_data", "torchvision", 0, progress=progress)
    quant, q_report = quantize_model(float_model, reader, QuantizeOptions(mode="int8", moving_average=True))
    int8 = out / INT8_NAME
    atomic_write(int8, quant.SerializeToString())
    say(f"quantized {int8} ({count} calibration sample(s)): {', '.join(q_report.op_types)}")
    write_coco_folder(out / "demo", DEMO_IMAGES, DEMO_SEED, progress=progress)
    return fp32, int8
