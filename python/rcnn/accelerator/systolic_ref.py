"""A reference for the rcnn.systolic ops written in standard ONNX ops, so partitioned models run on stock ONNX Runtime.

`lower_systolic(model)` replaces every QConv/QMatMul/QAdd/Conv/MatMul of domain rcnn.systolic by standard ops with
the semantics of ep/ort/README.md, without the custom-op library:

- QConv: Transpose to NCHW, QLinearConv (ONNX Runtime computes float32 (x_scale*w_scale)/y_scale, scales the int32
  accumulator in float32, rounds half to even and saturates: the accelerator's arithmetic), ReLU after saturation,
  the fused max-pool with padding counted as value 0 (Pad, Cast, MaxPool), Transpose back to NHWC.
- QMatMul: QLinearMatMul (+ ReLU).
- QAdd: Gemmini's resadd: a' = sat8(RNE(float(a) * (a_scale/c_scale))), b' likewise, c = clamp(a' + b'), each
  rounding done by a QuantizeLinear with scale 1 (exactly round half to even plus saturation).
- fp32 Conv/MatMul: Conv / MatMul (+ bias, ReLU, zero-padded pool).

Used by the tests to check the partitioner's rewrites (layouts, weights, attributes) end to end, and as a golden
model for the custom-op library. Run lowered models with graph optimizations off (`session_options()`): ONNX
Runtime 1.31's PadFusion folds a zero Pad in front of a MaxPool into the pool's pads, which ignore padding, and so
changes the zero-padded pool's results.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from rcnn.onnxgraph.graph import NameAllocator

DOMAIN = "rcnn.systolic"


class _Lowering:
    def __init__(self, model: onnx.ModelProto) -> None:
        g = model.graph
        names = {v.name for v in [*g.input, *g.output, *g.value_info]} | {i.name for i in g.initializer}
        names |= {t for n in g.node for t in [*n.input, *n.output] if t}
        self.names = NameAllocator(names)
        self.inits: dict[str, onnx.TensorProto] = {i.name: i for i in g.initializer}
        self.new_inits: list[onnx.TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.names.fresh(base)
        self.new_inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str, **attrs: object) -> str:
        out = self.names.fresh(base)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.names.fresh(f"ref_{op_type}"), **attrs))
        return out

    def int8_relu(self, x: str) -> str:
        f = self.op("Cast", [x], "relu_in", to=TensorProto.FLOAT)
        r = self.op("Relu", [f], "relu_f")
        return self.op("Cast", [r], "relu_out", to=TensorProto.INT8)

    def zero_padded_pool(self, x: str, attrs: dict[str, object], is_int8: bool) -> str:
        """MaxPool with padding counted as value 0: Pad, then a Cast (ONNX Runtime's PadFusion would fold a Pad that
        directly feeds a MaxPool into the pool's pads, which ignore padding), then MaxPool, then Cast back."""
        pads = list(attrs["pool_pads"])  # [t, l, b, r] -> Pad's [n, c, t, l, n, c, b, r]
        if any(pads):
            onnx_pads = np.array([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], dtype=np.int64)
            zero = self.const("zero", np.int8(0) if is_int8 else np.float32(0))
            x = self.op("Pad", [x, self.const("pool_pads", onnx_pads), zero], "padded")
        wide = TensorProto.FLOAT if is_int8 else TensorProto.DOUBLE  # exact for every int8 / float32 value
        f = self.op("Cast", [x], "pool_in", to=wide)
        p = self.op("MaxPool", [f], "pooled", kernel_shape=list(attrs["pool_kernel"]),
                    strides=list(attrs["pool_strides"]))
        return self.op("Cast", [p], "pool_out", to=TensorProto.INT8 if is_int8 else TensorProto.FLOAT)

    def weight_oihw(self, name: str) -> str:
        hwio = numpy_helper.to_array(self.inits[name])
        return self.const(f"{name}_oihw", np.ascontiguousarray(hwio.transpose(3, 2, 0, 1)))

    def conv(self, node: onnx.NodeProto, quantized: bool) -> None:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        x = self.op("Transpose", [node.input[0]], "x_nchw", perm=[0, 3, 1, 2])
        w = self.weight_oihw(node.input[1])
        geometry = {"strides": list(a["strides"]), "dilations": list(a["dilations"]), "pads": list(a["pads"]),
                    "group": int(a["group"])}
        bias = [node.input[2]] if len(node.input) > 2 and node.input[2] else []
        if quantized:
            zp = self.const("zp", np.int8(0))
            s = {k: self.const(k, np.float32(a[k])) for k in ("x_scale", "w_scale", "y_scale")}
            y = self.op("QLinearConv", [x, s["x_scale"], zp, w, s["w_scale"], zp, s["y_scale"], zp, *bias], "qconv",
                        **geometry)
            if a.get("relu"):
                y = self.int8_relu(y)
        else:
            y = self.op("Conv", [x, w, *bias], "conv", **geometry)
            if a.get("relu"):
                y = self.op("Relu", [y], "relu")
        if a.get("pool"):
            y = self.zero_padded_pool(y, a, quantized)
        self.nodes.append(helper.make_node("Transpose", [y], [node.output[0]], name=self.names.fresh("ref_out"),
                                           perm=[0, 2, 3, 1]))

    def matmul(self, node: onnx.NodeProto, quantized: bool) -> None:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else ""
        if quantized:
            if bias:
                raise ValueError(f"{node.name}: the reference has no QMatMul bias")
            zp = self.const("zp", np.int8(0))
            s = {k: self.const(k, np.float32(a[k])) for k in ("a_scale", "b_scale", "y_scale")}
            y = self.op("QLinearMatMul", [node.input[0], s["a_scale"], zp, node.input[1], s["b_scale"], zp,
                                          s["y_scale"], zp], "qmatmul")
            if a.get("relu"):
                y = self.int8_relu(y)
        else:
            y = self.op("MatMul", [node.input[0], node.input[1]], "matmul")
            if bias:
                y = self.op("Add", [y, bias], "biased")
            if a.get("relu"):
                y = self.op("Relu", [y], "relu")
        self.nodes.append(helper.make_node("Identity", [y], [node.output[0]], name=self.names.fresh("ref_out")))

    def qadd(self, node: onnx.NodeProto) -> None:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        one, zp = self.const("one", np.float32(1)), self.const("zp", np.int8(0))
        c_scale = np.float32(a["c_scale"])
        scaled = []
        for inp, key in ((node.input[0], "a_scale"), (node.input[1], "b_scale")):
            ratio = self.const("ratio", np.float32(np.float32(a[key]) / c_scale))
            f = self.op("Mul", [self.op("Cast", [inp], "in_f", to=TensorProto.FLOAT), ratio], "scaled")
            q = self.op("QuantizeLinear", [f, one, zp], "mvin")  # RNE + saturation to int8
            scaled.append(self.op("Cast", [q], "mvin_f", to=TensorProto.FLOAT))
        s = self.op("Add", scaled, "sum")
        if a.get("relu"):
            s = self.op("Relu", [s], "sum_relu")
        self.nodes.append(helper.make_node("QuantizeLinear", [s, one, zp], [node.output[0]],
                                           name=self.names.fresh("ref_out")))


def session_options() -> onnxruntime.SessionOptions:
    """ONNX Runtime session options for a lowered model: graph optimizations off (see the module docstring)."""
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return so


def lower_systolic(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` with every rcnn.systolic node replaced by its standard-ONNX reference."""
    low = _Lowering(model)
    for node in model.graph.node:
        if node.domain != DOMAIN:
            low.nodes.append(node)
        elif node.op_type in ("QConv", "Conv"):
            low.conv(node, node.op_type == "QConv")
        elif node.op_type in ("QMatMul", "MatMul"):
            low.matmul(node, node.op_type == "QMatMul")
        elif node.op_type == "QAdd":
            low.qadd(node)
        else:
            raise ValueError(f"unknown {DOMAIN} op {node.op_type}")
    used = {t for n in low.nodes for t in n.input}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(low.nodes)
    inits = [i for i in model.graph.initializer if i.name in used]
    del out.graph.initializer[:]
    out.graph.initializer.extend([*inits, *low.new_inits])
    opsets = [o for o in out.opset_import if o.domain != DOMAIN]
    del out.opset_import[:]
    out.opset_import.extend(opsets)
    return out
