"""Tensor files: ONNX TensorProto (.pb, the ONNX test-data format) and NumPy (.npy).

Both are untrusted: a .npy header or a TensorProto's dims may promise more than the file holds, so the size is
checked against the file and RCNN_MAX_TENSOR_BYTES (rcnn.onnxgraph.gate) before anything is allocated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.onnxgraph import gate


def _load_npy(path: Path) -> np.ndarray:
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)  # no allocation, unlike np.load
        if dtype.hasobject:
            raise gate.RefusedInput(f"tensor file {str(path)!r} holds Python objects (pickled data is refused)")
        want = int(np.prod(shape, dtype=object)) * dtype.itemsize
        gate.check_tensor_bytes(want, f"tensor file {str(path)!r} declares {want} bytes")
        held = path.stat().st_size - f.tell()
    if held < want:
        raise gate.RefusedInput(f"tensor file {str(path)!r} declares {want} bytes but holds {held}")
    return np.load(path, allow_pickle=False)


def load_tensor(path: str | Path) -> tuple[np.ndarray, str | None]:
    """The array in a .pb or .npy file, and the tensor name a .pb carries (None when it has none)."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return _load_npy(path), None
        proto = onnx.load_tensor(str(path))
        gate.check_tensor(proto, folder=None)
        return numpy_helper.to_array(proto), proto.name or None
    except FileNotFoundError:
        raise RcnnError(f"input file not found: {path}") from None
    except RcnnError:
        raise
    except Exception as e:
        raise RcnnError(f"cannot read tensor file {path}: {type(e).__name__}: {e}") from None


def save_tensor(array: np.ndarray, path: str | Path, name: str) -> None:
    """Write a TensorProto file atomically (temp name, then rename)."""
    path = Path(path)
    atomic_write(path, numpy_helper.from_array(np.ascontiguousarray(array), name).SerializeToString())
