"""Tensor files: ONNX TensorProto (.pb, the ONNX test-data format) and NumPy (.npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from rcnn.errors import RcnnError
from rcnn.files import atomic_write


def load_tensor(path: str | Path) -> tuple[np.ndarray, str | None]:
    """The array in a .pb or .npy file, and the tensor name a .pb carries (None when it has none)."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        proto = onnx.load_tensor(str(path))
        return numpy_helper.to_array(proto), proto.name or None
    except FileNotFoundError:
        raise RcnnError(f"input file not found: {path}") from None
    except Exception as e:
        raise RcnnError(f"cannot read tensor file {path}: {type(e).__name__}: {e}") from None


def save_tensor(array: np.ndarray, path: str | Path, name: str) -> None:
    """Write a TensorProto file atomically (temp name, then rename)."""
    path = Path(path)
    atomic_write(path, numpy_helper.from_array(np.ascontiguousarray(array), name).SerializeToString())
