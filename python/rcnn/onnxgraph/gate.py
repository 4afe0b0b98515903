"""The one gate every model, image and tensor passes before anything uses it (models and inputs are untrusted).

- External data stays inside the model's folder: a relative `location`, no `..`, no symlink out, a regular file,
  `offset`/`length` inside the file and equal to what the tensor's dims declare.
- Inline tensors hold what their dims declare (raw_data bytes, typed values).
- Sizes are bounded: decoded image pixels and tensor bytes (declared by a model, built from an image, read from a
  file) against limits that the environment may raise.

ort_test (cpp/ort_test/model_check.cpp, limits.cpp) enforces the same rules with the same messages and limits, so
the C++ runner is as safe used on its own. Every refusal is a RefusedInput (exit status 3) naming the cause.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import helper

from rcnn.errors import RcnnError, RefusedInput

ORT_MEMORY_TAG = "_ORT_MEM_ADDR_"
MAX_NESTING = 64  # subgraph depth (If/Loop/Scan bodies); deeper is refused rather than recursed into


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    what: str

    def value(self) -> int:
        text = os.environ.get(self.env)
        if text is None:
            return self.default
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise RcnnError(f"{self.env} must be a positive integer ({self.what}), got {text!r}")
        return value


MAX_IMAGE_PIXELS = Limit("RCNN_MAX_IMAGE_PIXELS", 100_000_000, "pixels of a decoded image")
MAX_TENSOR_BYTES = Limit("RCNN_MAX_TENSOR_BYTES", 2**31, "bytes of one tensor")
LIMITS = (MAX_IMAGE_PIXELS, MAX_TENSOR_BYTES)

# Bits per element of the fixed-size ONNX types (strings have none); 4-bit types pack two per byte.
_FOUR_BIT = {onnx.TensorProto.INT4, onnx.TensorProto.UINT4, getattr(onnx.TensorProto, "FLOAT4E2M1", -1)}


def _element_bits(data_type: int) -> int | None:
    if data_type == onnx.TensorProto.STRING or data_type == onnx.TensorProto.UNDEFINED:
        return None
    if data_type in _FOUR_BIT:
        return 4
    try:
        return helper.tensor_dtype_to_np_dtype(data_type).itemsize * 8
    except (KeyError, ValueError, TypeError):
        return None


def _type_name(data_type: int) -> str:
    """NumPy's name (float32, int8, ...), as ort_test prints it; ONNX's for types NumPy lacks."""
    try:
        if data_type in _FOUR_BIT or data_type == onnx.TensorProto.BFLOAT16:
            raise ValueError
        return str(helper.tensor_dtype_to_np_dtype(data_type))
    except (KeyError, ValueError, TypeError):
        try:
            return helper.tensor_dtype_to_string(data_type).removeprefix("TensorProto.").lower()
        except (KeyError, ValueError):
            return f"type {data_type}"


def _dims_text(dims: list[int]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def check_tensor_bytes(count: int, subject: str) -> None:
    """RefusedInput("<subject>, over the limit of ...") when `count` bytes exceed RCNN_MAX_TENSOR_BYTES."""
    limit = MAX_TENSOR_BYTES.value()
    if count > limit:
        raise RefusedInput(f"{subject}, over the limit of {limit} ({MAX_TENSOR_BYTES.env})")


def declared_bytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes the tensor's dims and type declare (None for strings and unknown types); refuses negative dims and
    sizes over the limit before anything is allocated."""
    name = f"tensor {tensor.name!r}"
    negative = [d for d in tensor.dims if d < 0]
    if negative:
        dims = _dims_text(list(tensor.dims))
        raise RefusedInput(f"{name} declares a negative dimension {negative[0]} in dims {dims}")
    bits = _element_bits(tensor.data_type)
    if bits is None:
        return None
    count = (math.prod(tensor.dims) * bits + 7) // 8
    check_tensor_bytes(count, f"{name} declares {count} bytes")
    return count


# Which typed field holds the values of each type, and how many elements share one field entry (negative: how many
# entries one element takes), as onnx.proto assigns them.
_T = onnx.TensorProto
_TYPED_FIELDS: dict[int, tuple[str, int]] = {
    _T.FLOAT: ("float_data", 1), _T.COMPLEX64: ("float_data", -2),
    _T.DOUBLE: ("double_data", 1), _T.COMPLEX128: ("double_data", -2),
    _T.INT64: ("int64_data", 1), _T.UINT32: ("uint64_data", 1), _T.UINT64: ("uint64_data", 1),
    **{t: ("int32_data", 1) for t in (_T.INT32, _T.INT16, _T.UINT16, _T.INT8, _T.UINT8, _T.BOOL, _T.FLOAT16,
                                      _T.BFLOAT16, _T.FLOAT8E4M3FN, _T.FLOAT8E4M3FNUZ, _T.FLOAT8E5M2,
                                      _T.FLOAT8E5M2FNUZ, getattr(_T, "FLOAT8E8M0", -1))},
    **{t: ("int32_data", 2) for t in _FOUR_BIT},
}


def _expected_values(elements: int, per_entry: int) -> int:
    return elements * -per_entry if per_entry < 0 else (elements + per_entry - 1) // per_entry


def _check_inline(tensor: onnx.TensorProto, want: int | None) -> None:
    name = f"tensor {tensor.name!r}"
    dims = _dims_text(list(tensor.dims))
    if tensor.HasField("raw_data"):
        if want is not None and len(tensor.raw_data) != want:
            raise RefusedInput(f"{name} declares dims {dims} ({want} bytes of {_type_name(tensor.data_type)}) "
                               f"but holds {len(tensor.raw_data)} bytes")
        return
    field = _TYPED_FIELDS.get(tensor.data_type)
    if field is None or want is None:
        return
    held = len(getattr(tensor, field[0]))
    expected = _expected_values(math.prod(tensor.dims), field[1])
    if held and held != expected:  # no values at all is ORT's to report: it is no size that disagrees
        raise RefusedInput(f"{name} declares dims {dims} ({expected} values of {_type_name(tensor.data_type)}) "
                           f"but holds {held} values")


def _external_file(tensor: onnx.TensorProto, location: str, folder: Path) -> Path:
    """The file an external-data location names, when it stays inside `folder` (refuses otherwise)."""
    name = f"tensor {tensor.name!r}"
    if not location:
        raise RefusedInput(f"external data of {name} has no location")
    if "\0" in location:
        raise RefusedInput(f"external data of {name} has a location containing a NUL byte")
    if ORT_MEMORY_TAG in location:  # ORT would read process memory at the address in `offset`
        raise RefusedInput(f"external data of {name} has location {location!r}, ONNX Runtime's tag for data at a "
                           "memory address")
    if os.path.isabs(location):
        raise RefusedInput(f"external data of {name} has an absolute location {location!r}")
    if ".." in Path(location).parts:
        raise RefusedInput(f"external data of {name} at {location!r} leaves the model's folder")
    root = os.path.realpath(folder)
    resolved = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, resolved]) != root:
        raise RefusedInput(f"external data of {name} at {location!r} resolves outside the model's folder")
    if not os.path.exists(resolved):
        raise RefusedInput(f"external data file {location!r} of {name} not found")
    if not os.path.isfile(resolved):
        raise RefusedInput(f"external data file {location!r} of {name} is not a regular file")
    return Path(resolved)


def _check_external(tensor: onnx.TensorProto, want: int | None, folder: Path) -> Path:
    name = f"tensor {tensor.name!r}"
    entries: dict[str, str] = {}
    for e in tensor.external_data:
        if not isinstance(e.key, str) or not isinstance(e.value, str):  # protobuf gives bytes for invalid UTF-8
            raise RefusedInput(f"external data of {name} has a key or value that is not UTF-8 text")
        if e.key in ("location", "offset", "length") and e.key in entries:  # two readings of one tensor
            raise RefusedInput(f"external data of {name} gives {e.key!r} twice")
        entries[e.key] = e.value
    path = _external_file(tensor, entries.get("location", ""), folder)
    size = path.stat().st_size
    numbers = {}
    for key in ("offset", "length"):
        text = entries.get(key)
        if text is None:
            continue
        if not text.isdigit():
            raise RefusedInput(f"external data of {name} has {key} {text!r}, not a non-negative decimal integer")
        numbers[key] = int(text)
    offset = numbers.get("offset", 0)
    length = numbers.get("length", max(size - offset, 0))
    if offset + length > size:
        raise RefusedInput(f"external data of {name} (offset {offset}, length {length}) runs past the end of "
                           f"{entries['location']!r} ({size} bytes)")
    if want is not None and length != want:
        raise RefusedInput(f"{name} declares dims {_dims_text(list(tensor.dims))} ({want} bytes of "
                           f"{_type_name(tensor.data_type)}) but holds {length} bytes")
    return path


def _attribute_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for a in node.attribute:
        if a.HasField("t"):
            yield a.t
        yield from a.tensors
        if a.HasField("sparse_tensor"):
            yield a.sparse_tensor.values
            yield a.sparse_tensor.indices
        for s in a.sparse_tensors:
            yield s.values
            yield s.indices


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for a in node.attribute:
        if a.HasField("g"):
            yield a.g
        yield from a.graphs


def _nodes_tensors(nodes: list[onnx.NodeProto], depth: int) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        yield from _attribute_tensors(node)
        for g in _subgraphs(node):
            yield from _graph_tensors(g, depth + 1)


def _graph_tensors(graph: onnx.GraphProto, depth: int = 0) -> Iterator[onnx.TensorProto]:
    if depth > MAX_NESTING:
        raise RefusedInput(f"subgraphs nested deeper than {MAX_NESTING} levels")
    yield from graph.initializer
    for s in graph.sparse_initializer:
        yield s.values
        yield s.indices
    yield from _nodes_tensors(list(graph.node), depth)


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto a model holds: initializers, sparse ones, node attributes, subgraphs and functions."""
    yield from _graph_tensors(model.graph)
    for f in model.functions:
        yield from _nodes_tensors(list(f.node), 1)


def check_tensor(tensor: onnx.TensorProto, folder: Path | None) -> Path | None:
    """Refuses a tensor whose data does not match its dims or whose external data leaves `folder` (None: external
    data not allowed at all, as for a tensor file fed as input). Returns the external file, if any."""
    want = declared_bytes(tensor)
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        _check_inline(tensor, want)
        return None
    if folder is None:
        raise RefusedInput(f"tensor {tensor.name!r} keeps its data in an external file, which a tensor file may not")
    return _check_external(tensor, want, folder)


def check_model(model: onnx.ModelProto, folder: Path) -> list[Path]:
    """Refuses the model unless every tensor is consistent and its external data stays in `folder`; returns the
    external data files it reads (sorted, each once), for cache keys."""
    files = {f for t in all_tensors(model) if (f := check_tensor(t, folder)) is not None}
    return sorted(files)


def load_model(path: str | Path, *, external_data: bool = True) -> onnx.ModelProto:
    """The model at `path` after the gate; with `external_data`, its external tensors loaded (from its folder)."""
    path = Path(path)
    if not path.is_file():
        raise RcnnError(f"model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, ValueError, ... for corrupt files
        raise RefusedInput(f"cannot read model {path}: not an ONNX model ({type(e).__name__})") from None
    check_model(model, path.parent)
    if external_data and any(t.data_location == onnx.TensorProto.EXTERNAL for t in all_tensors(model)):
        from onnx.external_data_helper import load_external_data_for_model

        try:
            load_external_data_for_model(model, str(path.parent))
        except Exception as e:  # the file changed under us, an unreadable file, ...
            raise RcnnError(f"cannot load the external data of {path}: {type(e).__name__}: {e}") from None
    return model


def check_image_size(width: int, height: int, what: str) -> None:
    limit = MAX_IMAGE_PIXELS.value()
    if width * height > limit:
        raise RefusedInput(f"{what} is {width}x{height} ({width * height} pixels), over the limit of {limit} "
                           f"({MAX_IMAGE_PIXELS.env})")
