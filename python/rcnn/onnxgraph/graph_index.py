"""A read-only index of an ONNX graph (rcnn.compare, rcnn.testnets): constants, tensor types and shapes, producers,
consumers.

Shapes come from `onnx.shape_inference`, which does not know the com.microsoft quantized ops (QLinearAdd, ...): their
outputs are filled in here and inference is re-run, so tensors downstream of them get shapes too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from rcnn.onnxgraph.graph import consumer_map

Dim = int | str | None  # a known size, a symbolic name, or unknown


@dataclass(frozen=True)
class TensorType:
    elem: int  # onnx.TensorProto element type (0 when unknown)
    dims: tuple[Dim, ...] | None  # None when the rank is unknown

    @property
    def rank(self) -> int | None:
        return None if self.dims is None else len(self.dims)


def _type_of(value: onnx.ValueInfoProto) -> TensorType | None:
    if not value.type.HasField("tensor_type"):
        return None
    t = value.type.tensor_type
    dims: tuple[Dim, ...] | None = None
    if t.HasField("shape"):
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)
    return TensorType(t.elem_type, dims)


# com.microsoft ops that onnx shape inference does not know: output 0 type from (shape input indices, elem input).
_SKELETON_BYTES = 16 << 20  # models larger than this are shape-inferred without their large initializers
_SMALL_INITIALIZER = 64  # elements: initializers up to this size keep their values (shape tensors, scales)
_BROADCAST_BINARY = {"QLinearAdd": ((0, 3), 7), "QLinearMul": ((0, 3), 7)}
_SAME_AS_INPUT = {"QLinearSigmoid": 3, "QLinearLeakyRelu": 3, "QLinearSoftmax": 3}


def _broadcast(shapes: list[tuple[Dim, ...]]) -> tuple[Dim, ...] | None:
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d != 1}
        if len(known) > 1 or None in known:
            return None
        out.append(known.pop() if known else 1)
    return tuple(out)


class GraphIndex:
    """Constants, types, producers and consumers of a model's main graph (the model itself is not changed)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes: list[onnx.NodeProto] = list(self.graph.node)
        self.initializers: dict[str, onnx.TensorProto] = {i.name: i for i in self.graph.initializer}
        self.graph_inputs = [i.name for i in self.graph.input]
        self.graph_outputs = [o.name for o in self.graph.output]
        self._const_cache: dict[str, np.ndarray] = {}
        self._constant_nodes: dict[str, onnx.TensorProto] = {}
        self.producer: dict[str, int] = {}
        # one entry per (node, input slot); subgraph reads count once
        self.consumers: dict[str, list[int]] = consumer_map(self.nodes, subgraphs=True)
        for idx, node in enumerate(self.nodes):
            for out in node.output:
                if out:
                    self.producer[out] = idx
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self._constant_nodes[node.output[0]] = value
        self.shape_note: str | None = None
        self.types: dict[str, TensorType] = self._infer_types()

    # ---- constants -------------------------------------------------------------------------------------------

    def is_overridable(self, name: str) -> bool:
        """An initializer also listed as a graph input may be fed at run time: it is not a constant."""
        return name in self.graph_inputs

    def const(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor (initializer not overridable by an input, or Constant node), else None."""
        if not name or self.is_overridable(name):
            return None
        if name in self._const_cache:
            return self._const_cache[name]
        proto = self.initializers.get(name) or self._constant_nodes.get(name)
        if proto is None:
            return None
        value = numpy_helper.to_array(proto)
        self._const_cache[name] = value
        return value

    # ---- graph structure -------------------------------------------------------------------------------------

    def uses(self, name: str) -> list[int]:
        return self.consumers.get(name, [])

    def elem_type(self, name: str) -> int:
        t = self.types.get(name)
        return t.elem if t else 0

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        t = self.types.get(name)
        return t.dims if t else None

    def iter_nodes(self) -> Iterator[tuple[int, onnx.NodeProto]]:
        return iter(enumerate(self.nodes))

    # ---- shape inference -------------------------------------------------------------------------------------

    def _collect(self, model: onnx.ModelProto) -> dict[str, TensorType]:
        types: dict[str, TensorType] = {}
        g = model.graph
        for value in [*g.input, *g.value_info, *g.output]:
            t = _type_of(value)
            if t is not None and (value.name not in types or (types[value.name].dims is None and t.dims is not None)):
                types[value.name] = t
        for init in g.initializer:
            types.setdefault(init.name, TensorType(init.data_type, tuple(int(d) for d in init.dims)))
        for name, proto in self._constant_nodes.items():
            types.setdefault(name, TensorType(proto.data_type, tuple(int(d) for d in proto.dims)))
        return types

    def _contrib_output(self, node: onnx.NodeProto, types: dict[str, TensorType]) -> TensorType | None:
        def get(i: int) -> TensorType | None:
            return types.get(node.input[i]) if len(node.input) > i and node.input[i] else None

        if node.op_type in _BROADCAST_BINARY:
            shape_inputs, elem_input = _BROADCAST_BINARY[node.op_type]
            ins = [get(i) for i in shape_inputs]
            if any(t is None or t.dims is None for t in ins):
                return None
            elem_t = get(elem_input) or ins[0]
            dims = _broadcast([t.dims for t in ins if t and t.dims is not None])
            return TensorType(elem_t.elem if elem_t else 0, dims)
        if node.op_type in _SAME_AS_INPUT:
            x, zp = get(0), get(_SAME_AS_INPUT[node.op_type] + 1)
            if x is None:
                return None
            return TensorType(zp.elem if zp else x.elem, x.dims)
        if node.op_type == "QLinearGlobalAveragePool":
            x = get(0)
            if x is None or x.dims is None or len(x.dims) < 3:
                return None
            channels_last = next((a.i for a in node.attribute if a.name == "channels_last"), 0)
            d = x.dims
            dims = (d[0], *([1] * (len(d) - 2)), d[-1]) if channels_last else (d[0], d[1], *([1] * (len(d) - 2)))
            return TensorType(x.elem, dims)
        return None

    def _skeleton(self) -> onnx.ModelProto:
        """The model for shape inference. A large model loses its large initializers (declared as graph inputs
        instead): inference needs their types and shapes, not their values, and every pass serializes the model."""
        model = onnx.ModelProto()
        if self.model.ByteSize() < _SKELETON_BYTES:
            model.CopyFrom(self.model)
            return model
        src = self.model.graph
        model.ir_version = self.model.ir_version
        model.opset_import.extend(self.model.opset_import)
        model.functions.extend(self.model.functions)
        g = model.graph
        g.name = src.name
        g.node.extend(src.node)
        g.input.extend(src.input)
        g.output.extend(src.output)
        g.value_info.extend(src.value_info)
        inputs = set(self.graph_inputs)
        for init in src.initializer:
            if math.prod(init.dims) <= _SMALL_INITIALIZER:
                g.initializer.append(init)
            elif init.name not in inputs:
                g.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        return model

    def _infer_types(self) -> dict[str, TensorType]:
        model = self._skeleton()
        contrib = [n for n in self.nodes if n.domain == "com.microsoft" and n.output and n.output[0]]
        for _ in range(len(contrib) + 1):
            try:
                inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
            except Exception as e:  # inference is best effort: callers handle unknown types
                self.shape_note = f"shape inference failed ({type(e).__name__}): shapes unknown"
                return self._collect(model)
            types = self._collect(inferred)
            added = []
            for node in contrib:
                out = node.output[0]
                if out in types and types[out].dims is not None:
                    continue
                t = self._contrib_output(node, types)
                if t is not None and t.elem:
                    added.append(helper.make_tensor_value_info(out, t.elem, None if t.dims is None else list(t.dims)))
            if not added:
                return types
            model = onnx.ModelProto()
            model.CopyFrom(inferred)
            model.graph.value_info.extend(added)
        return types
