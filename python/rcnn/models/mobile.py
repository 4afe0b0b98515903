"""Mobile test networks (MobileNetV3: depthwise convs, hard-swish, hard-sigmoid, squeeze-and-excitation) trained
briefly on the project's synthetic shapes, so that their int8 accuracy means something (the library behind
python -m rcnn.accuracy).

Two tasks, both made from rcnn.models.synthetic images (seeded: the same sample every time):
- classifier: torchvision's mobilenet_v3_small. Each image is a square crop centred on the LAST shape drawn in a
  synthetic scene (the one on top, so never occluded), resized to CLASSIFIER_SIZE; the class is that shape's
  (circle, square, triangle). Parts of other shapes may enter the crop, which keeps the task from being trivial.
- segmenter: torchvision's lraspp_mobilenet_v3_large on whole scenes at SEGMENTER_SIZE; the target is the semantic
  mask (background, circle, square, triangle) from the instance masks; the metric is mIoU.

Training: AdamW, linear warm-up then cosine decay, seeded, torch.set_num_threads(2), on the CPU. Export: BN folded
(rcnn.models.export.fold_batchnorm), the legacy TorchScript exporter at opset 17, static shapes, batch 1, input "x"
(float32 [1,3,S,S], ImageNet-normalised: metadata rcnn.preprocess holds the spec), output "logits" ([1,K] or
[1,K,S,S]); the ONNX model is checked against PyTorch on an image before it is written.

Cache: under the caller's folder, models/<name>.onnx (+ the state dict and the training log) and
data/<task>_<size>/{eval,calib}/... are made only when missing; a model's name holds its size and step count, so
another --train-steps trains another model instead of reusing the wrong one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.models.synthetic import CALIB_SEED, TRAIN_SEED, VAL_SEED, make_sample

KINDS = ("classifier", "segmenter")
CLASSIFIER_SIZE = 96
SEGMENTER_SIZE = 128
DEFAULT_STEPS = 400
CLASSIFIER_CLASSES = ("circle", "square", "triangle")
SEGMENTER_CLASSES = ("background", "circle", "square", "triangle")
# torchvision's ImageNet normalisation, as an rcnn.preprocess spec (what rcnn.run and the calibration reader apply).
PREPROCESS = "rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ARCHS = {"classifier": "mobilenet_v3_small", "segmenter": "lraspp_mobilenet_v3_large"}
# A classifier crop is this many times the shape's box side (context around the shape, as in a real crop).
CROP_MARGIN = 1.6
LOGITS_TOLERANCE = 1e-3  # eager vs ORT, relative to the largest logit (BN folding reorders float sums)


@dataclass
class TrainConfig:
    kind: str
    size: int
    steps: int = DEFAULT_STEPS
    batch: int = 32
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    pool: int = 2000  # classifier: distinct training crops, reused across epochs with flips/rotations

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.size}px_{self.steps}steps"


@dataclass
class MobileModel:
    kind: str
    path: Path  # the float ONNX model
    state: Path  # the PyTorch state dict it was exported from
    size: int
    classes: tuple[str, ...]
    arch: str
    steps: int
    train_seconds: float | None = None  # from the training log (also for a cached model)
    cached: bool = False  # True when it came from the cache instead of being trained now
    log: list[dict[str, float]] = field(default_factory=list)


def default_config(kind: str, steps: int = DEFAULT_STEPS) -> TrainConfig:
    if kind == "classifier":
        return TrainConfig(kind, CLASSIFIER_SIZE, steps, batch=32, lr=2e-3)
    if kind == "segmenter":
        return TrainConfig(kind, SEGMENTER_SIZE, steps, batch=8, lr=2e-3)
    raise RcnnError(f"unknown model kind {kind!r}; choose from {', '.join(KINDS)}")


def classes_of(kind: str) -> tuple[str, ...]:
    return CLASSIFIER_CLASSES if kind == "classifier" else SEGMENTER_CLASSES


# ---------------------------------------------------------------------------------------------------- data


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from rcnn.runtime.preprocess import resize_bilinear

    return np.clip(np.rint(resize_bilinear(img.astype(np.float32), size, size)), 0, 255).astype(np.uint8)


def classifier_sample(seed: int, index: int, size: int) -> tuple[np.ndarray, int]:
    """(size x size x 3 uint8 RGB crop, class index 0..2): the crop is centred on the last shape drawn in sample
    `index` of split `seed`, with a seeded jitter of its centre and scale."""
    s = make_sample(seed, index)
    if not len(s.labels):  # every scene keeps at least its top shape; guard anyway
        raise RcnnError(f"synthetic sample {seed}/{index} has no shape")
    x1, y1, x2, y2 = (float(v) for v in s.boxes[-1])
    rng = np.random.default_rng([seed, index, 7])  # its own stream: make_sample's draws stay as they are
    side = max(x2 - x1, y2 - y1, 12.0) * CROP_MARGIN * rng.uniform(0.9, 1.15)
    cx = (x1 + x2) / 2 + rng.uniform(-0.08, 0.08) * side
    cy = (y1 + y2) / 2 + rng.uniform(-0.08, 0.08) * side
    half = math.ceil(side / 2)
    pad = half + 1
    # Edge padding: a shape at the border keeps its crop square without inventing a black frame.
    padded = np.pad(s.image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    top, left = round(cy) - half + pad, round(cx) - half + pad
    crop = padded[top:top + 2 * half, left:left + 2 * half]
    return _resize(crop, size), int(s.labels[-1]) - 1


def segmenter_sample(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size x size x 3 uint8 RGB scene, size x size uint8 class map: 0 background, 1..3 the shapes' labels)."""
    s = make_sample(seed, index, size=size)
    target = np.zeros((size, size), np.uint8)
    for m, label in zip(s.masks, s.labels, strict=True):  # visible masks: they do not overlap
        target[m] = label
    return s.image, target


def _write_png(path: Path, array: np.ndarray) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())


def data_dir(out: Path, kind: str, size: int) -> Path:
    return out / "data" / f"{kind}_{size}px"


def ensure_images(folder: Path, kind: str, size: int, seed: int, count: int, progress: bool = True,
                  targets: bool = True) -> Path:
    """folder/images/NNNNN.png for samples 0..count-1 of split `seed`, and their ground truth (classifier:
    folder/labels.json, {file name: class}; segmenter: folder/masks/NNNNN.png), written only where missing (sample
    i is the same whatever the count). Returns folder/images."""
    from tqdm import tqdm

    images = folder / "images"
    labels_file = folder / "labels.json"
    labels: dict[str, int] = json.loads(labels_file.read_text()) if labels_file.is_file() else {}
    todo = [i for i in range(count) if not (images / f"{i:05d}.png").is_file()
            or (targets and kind == "classifier" and f"{i:05d}.png" not in labels)
            or (targets and kind == "segmenter" and not (folder / "masks" / f"{i:05d}.png").is_file())]
    for i in tqdm(todo, desc=f"{folder.parent.name}/{folder.name}", unit="img", disable=not progress or not todo):
        name = f"{i:05d}.png"
        if kind == "classifier":
            img, label = classifier_sample(seed, i, size)
            labels[name] = label
        else:
            img, mask = segmenter_sample(seed, i, size)
            if targets:
                _write_png(folder / "masks" / name, mask)
        _write_png(images / name, img)
    if todo and targets and kind == "classifier":
        atomic_write(labels_file, json.dumps(labels, indent=0, sort_keys=True).encode())
    return images


def load_eval_set(folder: Path, kind: str, count: int) -> tuple[list[Path], list[Any]]:
    """The first `count` images of an eval folder and their ground truth (class index, or class map)."""
    from rcnn.runtime.preprocess import load_rgb

    paths = [folder / "images" / f"{i:05d}.png" for i in range(count)]
    if kind == "classifier":
        labels = json.loads((folder / "labels.json").read_text())
        return paths, [int(labels[p.name]) for p in paths]
    return paths, [load_rgb(folder / "masks" / p.name)[..., 0] for p in paths]


def ensure_data(out: Path, kind: str, size: int, images: int, calib: int, progress: bool = True) -> tuple[Path,
                                                                                                        Path]:
    """The held-out eval folder (VAL_SEED) and the calibration image folder (CALIB_SEED) of a task."""
    base = data_dir(out, kind, size)
    ensure_images(base / "eval", kind, size, VAL_SEED, images, progress)
    calib_images = ensure_images(base / "calib", kind, size, CALIB_SEED, calib, progress, targets=False)
    return base / "eval", calib_images


def to_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> the model's input [1,3,H,W] float32 (the PREPROCESS spec, rcnn.preprocess arithmetic)."""
    from rcnn.runtime.preprocess import normalize

    return normalize(rgb.astype(np.float32), PREPROCESS)[None]


# ---------------------------------------------------------------------------------------------------- models


def build(kind: str, num_classes: int) -> Any:
    """The torchvision architecture, random init (weights=None: no download)."""
    import torchvision

    if kind == "classifier":
        return torchvision.models.mobilenet_v3_small(weights=None, num_classes=num_classes)
    from torch import nn

    class SegmenterLogits(nn.Module):
        """torchvision's segmentation models return {"out": logits}; ONNX export and the loss want the tensor."""

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return self.inner(x)["out"]

    # Defined here so that importing this module (rcnn.accuracy --help) does not import torch.
    return SegmenterLogits(torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes))


def learning_rate(step: int, total: int, peak: float) -> float:
    warmup = max(1, total // 10)
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _normalise_batch(images: Any) -> Any:
    """uint8 NHWC tensor -> float NCHW, ImageNet-normalised (the same constants as PREPROCESS)."""
    import torch

    x = images.permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _augment(images: Any, targets: Any, generator: Any) -> tuple[Any, Any]:
    """Random flips and quarter turns of a batch (NHWC images; segmentation targets NHW turn with them): the
    shapes' classes do not change under them."""
    import torch

    k = int(torch.randint(0, 4, (1,), generator=generator))
    flip = bool(torch.randint(0, 2, (1,), generator=generator))
    images = torch.rot90(images, k, dims=(1, 2))
    if targets.ndim == 3:
        targets = torch.rot90(targets, k, dims=(1, 2))
    if flip:
        images = torch.flip(images, dims=(2,))
        if targets.ndim == 3:
            targets = torch.flip(targets, dims=(2,))
    return images.contiguous(), targets.contiguous()


def _classifier_pool(cfg: TrainConfig, progress: bool) -> tuple[Any, Any]:
    import torch
    from tqdm import tqdm

    imgs = np.zeros((cfg.pool, cfg.size, cfg.size, 3), np.uint8)
    labels = np.zeros(cfg.pool, np.int64)
    for i in tqdm(range(cfg.pool), desc="training crops", unit="img", disable=not progress):
        imgs[i], labels[i] = classifier_sample(TRAIN_SEED, i, cfg.size)
    return torch.from_numpy(imgs), torch.from_numpy(labels)


def train(cfg: TrainConfig, progress: bool = True) -> tuple[Any, list[dict[str, float]], float]:
    """Trains from scratch; returns (model in eval mode, per-step log, seconds)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see ensure_model
    import torch
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    generator = torch.Generator().manual_seed(cfg.seed)
    classes = classes_of(cfg.kind)
    model = build(cfg.kind, len(classes))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    pool = _classifier_pool(cfg, progress) if cfg.kind == "classifier" else None
    order = torch.randperm(cfg.pool, generator=generator) if pool is not None else None
    log: list[dict[str, float]] = []
    start = time.monotonic()
    bar = tqdm(range(cfg.steps), desc=f"train {cfg.kind}", unit="step", disable=not progress)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg.steps, cfg.lr)
        if pool is not None and order is not None:
            at = (step * cfg.batch) % cfg.pool
            if at + cfg.batch > cfg.pool:  # a new epoch: a new order
                order = torch.randperm(cfg.pool, generator=generator)
                at = 0
            idx = order[at:at + cfg.batch]
            images, targets = pool[0][idx], pool[1][idx]
        else:
            pairs = [segmenter_sample(TRAIN_SEED, step * cfg.batch + k, cfg.size) for k in range(cfg.batch)]
            images = torch.from_numpy(np.stack([p[0] for p in pairs]))
            targets = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
        images, targets = _augment(images, targets, generator)
        logits = model(_normalise_batch(images))
        loss = torch.nn.functional.cross_entropy(logits, targets)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        with torch.no_grad():
            acc = float((logits.argmax(1) == targets).float().mean())
        value = float(loss.detach())
        log.append({"step": step, "seconds": round(time.monotonic() - start, 2), "loss": round(value, 5),
                    "train_accuracy": round(acc, 4)})
        bar.set_postfix(loss=f"{value:.3f}", acc=f"{acc:.2f}")
    recalibrate_batchnorm(model, cfg, pool, generator, progress)
    model.eval()
    return model, log, time.monotonic() - start


def recalibrate_batchnorm(model: Any, cfg: TrainConfig, pool: tuple[Any, Any] | None, generator: Any,
                          progress: bool, batches: int = 20) -> None:
    """Recompute every BatchNorm's running statistics with the final weights (an equal-weight average over
    `batches` training batches). Why: torchvision's MobileNetV3 uses BN momentum 0.01, a memory of ~100 steps, so
    after a few hundred steps the running statistics still describe earlier weights; measured on the classifier
    after 400 steps: 100 % held-out top-1 with batch statistics, 40 % (one class for every image) with the running
    ones."""
    import torch
    from tqdm import tqdm

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: each batch counts the same
    model.train()
    with torch.no_grad():
        for b in tqdm(range(batches), desc="BN statistics", unit="batch", disable=not progress):
            if pool is not None:
                idx = torch.randint(0, len(pool[1]), (cfg.batch,), generator=generator)
                images = pool[0][idx]
            else:  # fresh scenes, past the ones trained on
                images = torch.from_numpy(np.stack([segmenter_sample(TRAIN_SEED, (cfg.steps + b) * cfg.batch + k,
                                                                     cfg.size)[0] for k in range(cfg.batch)]))
            model(_normalise_batch(images))


def load_trained(kind: str, state: Path) -> Any:
    import torch

    model = build(kind, len(classes_of(kind)))
    model.load_state_dict(torch.load(state, map_location="cpu", weights_only=True))
    model.eval()
    return model


def export_onnx(model: Any, kind: str, size: int, out: Path, check_image: np.ndarray) -> None:
    """BN folded, opset 17, static [1,3,size,size] input "x", output "logits", metadata; checked against PyTorch on
    `check_image` (HxWx3 uint8) in ONNX Runtime before it is written atomically. `model` is folded in place."""
    import onnx
    import onnxruntime as ort
    import torch

    from rcnn.models.export import fold_batchnorm
    from rcnn.onnxgraph.graph import MAX_IR_VERSION

    model.eval()
    fold_batchnorm(model)
    x = to_input(check_image)
    with torch.no_grad():
        eager = model(torch.from_numpy(x)).numpy()
    with tempfile.TemporaryDirectory(prefix="rcnn-mobile-") as tmp:
        path = Path(tmp) / "model.onnx"
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape arithmetic are expected
            torch.onnx.export(model, (torch.from_numpy(x),), str(path), dynamo=False, opset_version=17,
                              do_constant_folding=True, input_names=["x"], output_names=["logits"])
        proto = onnx.load(str(path))
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    metadata = {"rcnn.arch": ARCHS[kind], "rcnn.preprocess": PREPROCESS, "rcnn.task": kind,
                "rcnn.classes": json.dumps(list(classes_of(kind)))}
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    got = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    diff = float(np.abs(got - eager).max()) / max(1.0, float(np.abs(eager).max()))
    if diff > LOGITS_TOLERANCE:
        raise RcnnError(f"onnxruntime and PyTorch disagree on the exported {kind}: {diff:.3g} > {LOGITS_TOLERANCE}")
    atomic_write(out, data)


def ensure_model(out: Path, cfg: TrainConfig, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> MobileModel:
    """out/models/<cfg.name>.onnx, trained and exported when missing; the state dict and the training log sit
    next to it."""
    # Before torch's first import (OpenMP reads it once): spinning OpenMP threads slow training several-fold
    # whenever another process holds a core; measured here: 2-3 s per classifier step instead of 0.2 s.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    say = log or (lambda text: None)
    folder = out / "models"
    onnx_path, state_path, log_path = (folder / f"{cfg.name}{suffix}" for suffix in (".onnx", ".pt", ".json"))
    classes = classes_of(cfg.kind)
    model = MobileModel(cfg.kind, onnx_path, state_path, cfg.size, classes, ARCHS[cfg.kind], cfg.steps)
    if onnx_path.is_file() and state_path.is_file():
        say(f"{cfg.kind}: using {onnx_path} (delete it to train again)")
        model.cached = True
        if log_path.is_file():
            saved = json.loads(log_path.read_text())
            model.log, model.train_seconds = saved.get("log", []), saved.get("seconds")
        return model
    folder.mkdir(parents=True, exist_ok=True)  # before the long part: an unusable folder fails at once
    trained, steps_log, seconds = train(cfg, progress)
    tmp = state_path.with_suffix(".pt.tmp")
    torch.save(trained.state_dict(), tmp)  # before folding: load_trained rebuilds the unfolded architecture
    tmp.replace(state_path)
    check = (classifier_sample(VAL_SEED, 0, cfg.size)[0] if cfg.kind == "classifier"
             else segmenter_sample(VAL_SEED, 0, cfg.size)[0])
    export_onnx(trained, cfg.kind, cfg.size, onnx_path, check)
    atomic_write(log_path, json.dumps({"config": cfg.__dict__, "seconds": round(seconds, 1), "log": steps_log},
                                      default=str).encode())
    model.train_seconds, model.log = seconds, steps_log
    say(f"{cfg.kind}: trained {cfg.steps} steps in {seconds:.0f} s, wrote {onnx_path}")
    return model


__all__ = ["KINDS", "PREPROCESS", "MobileModel", "TrainConfig", "build", "default_config", "ensure_data",
           "ensure_model", "export_onnx", "load_eval_set", "load_trained", "to_input", "train"]
