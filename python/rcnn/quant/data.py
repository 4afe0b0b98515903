"""Calibration data: the model zoo's test_data_set_N/input_K.pb tree, with the seed's --data_preprocess modes.

The .pb tensors hold raw pixel values (0..255, RGB, CHW or NCHW) and the mode normalises them, as the seed's
data_preprocess.py did; `None` feeds them as stored; any other rcnn.preprocess preset or spec works too (NCHW).
The constants come from rcnn.preprocess (the seed's `rcnn` is its `zoo` mode), so calibration and inference
normalise identically.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader
from tqdm import tqdm

from rcnn.errors import RcnnError
from rcnn.runtime.preprocess import normalize, resolve_mode
from rcnn.runtime.tensors import load_tensor

# The seed's names -> rcnn.preprocess modes; `rcnn` is the only rank-3 (CHW) one, as in the seed.
DATA_PREPROCESS: dict[str, str | None] = {
    "rcnn": "zoo", "torchvision": "torchvision", "caffe2": "caffe2", "caffe": "caffe", "mxnet": "mxnet", "None": None,
}
CHW_MODES = {"rcnn"}


def apply_preprocess(x: np.ndarray, name: str) -> np.ndarray:
    """Raw 0..255 RGB CHW/NCHW (batch 1) -> the mode's normalisation; rcnn gives CHW, the others NCHW."""
    mode = DATA_PREPROCESS.get(name, name)  # the seed's names, else an rcnn.preprocess preset or spec
    x = x.astype(np.float32)  # an integer .pb would otherwise reach ORT as int/float64
    if mode is None:
        return x
    chw = x[0] if x.ndim == 4 and x.shape[0] == 1 else x
    if chw.ndim != 3 or chw.shape[0] != 3:
        raise RcnnError(f"--data_preprocess={name} needs a [3,H,W] or [1,3,H,W] tensor, got {list(x.shape)}")
    out = normalize(np.ascontiguousarray(chw.transpose(1, 2, 0)), mode)
    return out if name in CHW_MODES else out[None]


def _number(path: Path) -> int:
    m = re.search(r"(\d+)$", path.stem if path.is_file() else path.name)
    return int(m.group(1)) if m else -1


def sample_dirs(dataset: Path, limit: int = 0) -> list[Path]:
    """test_data_set_N folders in numeric order (the seed's glob was unsorted); the folder itself if it has none."""
    if not dataset.is_dir():
        raise RcnnError(f"dataset directory not found: {dataset}")
    dirs = sorted((d for d in dataset.glob("test_data_set_*") if d.is_dir()), key=_number)
    dirs = dirs or [dataset]
    return dirs[:limit] if limit > 0 else dirs


def input_files(sample: Path, count: int) -> list[Path]:
    files = sorted(sample.glob("input_*.pb"), key=_number)
    if len(files) != count:
        raise RcnnError(f"{sample} has {len(files)} input_*.pb file(s), the model has {count} input(s)")
    return files


def model_inputs(model: onnx.ModelProto) -> list[tuple[str, int]]:
    """(name, rank) of the real inputs (initializers listed as inputs are not fed)."""
    inits = {i.name for i in model.graph.initializer}
    return [(v.name, len(v.type.tensor_type.shape.dim)) for v in model.graph.input if v.name not in inits]


def fit_rank(x: np.ndarray, rank: int) -> np.ndarray:
    """Add or drop a leading batch of 1 so a CHW/NCHW sample fits the input (the seed fed them as stored)."""
    if rank and x.ndim == rank - 1:
        return x[None]
    if rank and x.ndim == rank + 1 and x.shape[0] == 1:
        return x[0]
    return x


class ZooDataReader(CalibrationDataReader):
    """Feeds each sample once, inputs matched by position, with a tqdm progress bar over the samples."""

    def __init__(self, model: onnx.ModelProto, dataset: Path, preprocess: str, limit: int = 0,
                 progress: bool = True) -> None:
        if preprocess not in DATA_PREPROCESS:
            resolve_mode(preprocess)  # a preset or spec, else RcnnError naming the bad token
        self.inputs = model_inputs(model)
        self.samples = sample_dirs(dataset, limit)
        for s in self.samples:  # fail before the (slow) calibration starts
            input_files(s, len(self.inputs))
        self.preprocess = preprocess
        self.progress = progress
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def feed(self, sample: Path) -> dict[str, np.ndarray]:
        files = input_files(sample, len(self.inputs))
        return {name: fit_rank(apply_preprocess(load_tensor(f)[0], self.preprocess), rank)
                for (name, rank), f in zip(self.inputs, files, strict=True)}

    def _iterate(self, samples: Sequence[Path]) -> Iterator[dict[str, np.ndarray]]:
        for s in tqdm(samples, desc="calibrating", unit="sample", disable=not self.progress):
            yield self.feed(s)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._it is None:
            self._it = self._iterate(self.samples)
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = None
