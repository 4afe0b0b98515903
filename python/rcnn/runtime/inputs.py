"""Turn what the user gave (an image, .pb or .npy files) into one TensorProto file per model input."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rcnn.errors import RcnnError
from rcnn.onnxgraph.model_info import ModelInfo
from rcnn.runtime.preprocess import METADATA_KEY, image_to_tensor, resolve_mode
from rcnn.runtime.tensors import load_tensor, save_tensor


def preprocess_mode(info: ModelInfo, requested: str | None) -> str:
    """The -p preset or spec: the one asked for, else the one the model's metadata holds (either form)."""
    if requested:
        return resolve_mode(requested)
    if METADATA_KEY in info.metadata:
        try:
            return resolve_mode(info.metadata[METADATA_KEY])
        except RcnnError as e:  # say where the spec came from: the model, not the command line
            raise RcnnError(f"the model's {METADATA_KEY} metadata: {e}") from None
    raise RcnnError(f"an image input needs -p: the model has no {METADATA_KEY} metadata")


def _conform(array: np.ndarray, want: np.dtype, source: str, input_name: str) -> np.ndarray:
    if array.dtype == want:
        return array
    # .npy files written by numpy default to float64; a float input is what was meant.
    if array.dtype.kind == "f" and want.kind == "f":
        return array.astype(want)
    raise RcnnError(f"{source} holds {array.dtype}, input {input_name!r} wants {want}")


def prepare_inputs(info: ModelInfo, image: Path | None, files: list[Path], preprocess: str | None,
                   dest: Path) -> tuple[list[Path], str | None]:
    """Write dest/input_K.pb for every model input; returns the files and the preprocess mode used (if any)."""
    given = (1 if image else 0) + len(files)
    if given != len(info.inputs):
        raise RcnnError(f"model has {len(info.inputs)} inputs, got {given}")
    tensors: dict[str, np.ndarray] = {}
    mode = None
    if image is not None:
        first = info.inputs[0]
        if first.dtype != np.float32:
            raise RcnnError(f"an image feeds a float32 input, {first.name!r} is {first.dtype}")
        mode = preprocess_mode(info, preprocess)
        tensors[first.name] = image_to_tensor(image, mode, first.dims, first.name)
    loaded = [(f, *load_tensor(f)) for f in files]
    by_name = {t.name: t for t in info.inputs}
    for f, array, name in loaded:  # files that name an input go to it ...
        if name in by_name and name not in tensors:
            tensors[name] = _conform(array, by_name[name].dtype, str(f), name)
    free = [t for t in info.inputs if t.name not in tensors]
    for (f, array, _), slot in zip([x for x in loaded if x[2] not in by_name], free, strict=False):
        tensors[slot.name] = _conform(array, slot.dtype, str(f), slot.name)  # ... the rest fill the others in order
    missing = [t.name for t in info.inputs if t.name not in tensors]
    if missing:
        raise RcnnError(f"no tensor given for input(s) {', '.join(missing)}")
    written = []
    for k, t in enumerate(info.inputs):
        _check_shape(tensors[t.name], t.dims, t.name)
        written.append(dest / f"input_{k}.pb")
        save_tensor(tensors[t.name], written[-1], t.name)
    return written, mode


def _check_shape(array: np.ndarray, dims: tuple[int | None, ...] | None, name: str) -> None:
    if dims is None:  # the model declares no shape: any rank fits
        return
    ok = array.ndim == len(dims) and all(d is None or d == n for d, n in zip(dims, array.shape, strict=True))
    if not ok:
        want = "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"
        raise RcnnError(f"input {name!r} wants shape {want}, got {list(array.shape)}")
