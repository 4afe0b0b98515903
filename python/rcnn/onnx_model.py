"""What the pipeline needs to know about an ONNX model file, read without loading its weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from rcnn.errors import RcnnError


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: np.dtype
    dims: tuple[int | None, ...]  # None for a symbolic or unknown dim


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: dict[str, str]


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    t = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim)
    return TensorInfo(value.name, np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)), dims)


def read_model_info(path: str | Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise RcnnError(f"model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, ValueError, ... for corrupt files
        raise RcnnError(f"cannot read model {path}: {type(e).__name__}: {e}") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs = tuple(_tensor_info(v) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_tensor_info(v) for v in model.graph.output)
    if not outputs:
        raise RcnnError(f"cannot read model {path}: the graph has no outputs")
    return ModelInfo(path, inputs, outputs, {p.key: p.value for p in model.metadata_props})
