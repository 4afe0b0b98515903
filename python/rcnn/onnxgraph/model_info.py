"""What the pipeline needs to know about an ONNX model file, read without loading its weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from rcnn.errors import RcnnError
from rcnn.onnxgraph import gate


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: np.dtype
    dims: tuple[int | None, ...] | None  # None for a symbolic or unknown dim; the whole None: no shape declared


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: dict[str, str]


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    t = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        raise RcnnError(f"{value.name!r} is not a tensor: only tensor inputs and outputs are supported")
    dims = None
    if t.HasField("shape"):  # without one the rank is unknown too: any tensor of the type fits
        dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim)
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type))
    except (KeyError, ValueError, TypeError):
        raise RcnnError(f"{value.name!r} has element type {t.elem_type}, which NumPy cannot hold") from None
    return TensorInfo(value.name, dtype, dims)


def read_model_info(path: str | Path) -> ModelInfo:
    path = Path(path)
    model = gate.load_model(path, external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    inputs = tuple(_tensor_info(v) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_tensor_info(v) for v in model.graph.output)
    if not outputs:
        raise RcnnError(f"cannot read model {path}: the graph has no outputs")
    return ModelInfo(path, inputs, outputs, {p.key: p.value for p in model.metadata_props})
