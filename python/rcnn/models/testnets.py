"""Small ONNX networks built with onnx.helper: the built-in demo model and the test models.

Every model is saved with IR 10 and opset 21, which every ONNX Runtime from 1.21 on reads.
Weights are seeded random numbers: the networks exercise the runtime, their predictions mean nothing.
`QNet` writes int8 QOperator graphs node by node (every knob the EP's placement rules look at can be turned: uint8, zero
points, per-channel scales, broadcasting adds...); `resnet_block()` and `resnet_float()` are float ResNet-style
networks and `quantize_qoperator()` quantizes a float model (quantize_static, QOperator, symmetric int8).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rcnn.onnxgraph.graph import MAX_IR_VERSION

IR_VERSION = MAX_IR_VERSION
OPSET = 21


def _save(graph: onnx.GraphProto, path: str | Path, metadata: dict[str, str]) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rcnn.testnets")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def fp32_convnet(path: str | Path, size: int = 16, seed: int = 0) -> Path:
    """x[1,3,S,S] → Conv 3→8 (3x3, pad 1) → Relu → Flatten → MatMul → Add → y[1,10]; Relu is an output too."""
    rng = np.random.default_rng(seed)
    k = 8 * size * size
    inits = [
        _init("w", rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)),
        _init("b", rng.normal(0, 0.1, 8).astype(np.float32)),
        _init("fc_w", rng.normal(0, 0.05, (k, 10)).astype(np.float32)),
        _init("fc_b", rng.normal(0, 0.1, 10).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("Flatten", ["relu"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc_w"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "fc_b"], ["y"], name="fc_bias"),
    ]
    graph = helper.make_graph(
        nodes, "fp32_convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10]),
         helper.make_tensor_value_info("relu", TensorProto.FLOAT, [1, 8, size, size])],
        inits,
    )
    return _save(graph, path, {"rcnn.preprocess": "torchvision"})


def int8_convnet(path: str | Path, size: int = 32, classes: int = 10, seed: int = 0) -> Path:
    """An int8 QOperator CNN, symmetric (zero points 0), per-tensor scales, as the accelerator wants it.

    x float[1,3,S,S] → QuantizeLinear → QLinearConv 3→8 (3x3, pad 1) → Relu → MaxPool 2x2
    → QLinearConv 8→16 (3x3, stride 2, pad 1) → Relu → Reshape → QLinearMatMul → DequantizeLinear → logits.
    The int8 feature map before the classifier is an output too, so runs can be compared integer for integer.
    """
    rng = np.random.default_rng(seed)
    s2 = size // 4
    k = 16 * s2 * s2

    def w8(*shape: int) -> np.ndarray:
        return rng.integers(-127, 128, shape, dtype=np.int64).astype(np.int8)

    def scalar(name: str, value: float | int, dtype: type) -> onnx.TensorProto:
        return _init(name, np.array(value, dtype=dtype))

    inits = [
        scalar("x_scale", 1 / 127, np.float32), scalar("zp", 0, np.int8),
        scalar("c1_scale", 0.05, np.float32), scalar("c2_scale", 0.08, np.float32),
        scalar("fc_scale", 1.0, np.float32), scalar("w_scale", 0.004, np.float32),
        _init("c1_w", w8(8, 3, 3, 3)), _init("c1_b", rng.integers(-500, 500, 8).astype(np.int32)),
        _init("c2_w", w8(16, 8, 3, 3)), _init("c2_b", rng.integers(-500, 500, 16).astype(np.int32)),
        _init("fc_w", w8(k, classes)), _init("flat_shape", np.array([1, k], dtype=np.int64)),
    ]
    qconv = "QLinearConv"
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "zp"], ["xq"], name="quantize"),
        helper.make_node(qconv, ["xq", "x_scale", "zp", "c1_w", "w_scale", "zp", "c1_scale", "zp", "c1_b"], ["c1"],
                         pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node(qconv, ["p1", "c1_scale", "zp", "c2_w", "w_scale", "zp", "c2_scale", "zp", "c2_b"], ["c2"],
                         pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["c2"], ["features"], name="relu2"),
        helper.make_node("Reshape", ["features", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("QLinearMatMul", ["flat", "c2_scale", "zp", "fc_w", "w_scale", "zp", "fc_scale", "zp"],
                         ["fc"], name="fc"),
        helper.make_node("DequantizeLinear", ["fc", "fc_scale", "zp"], ["logits"], name="dequantize"),
    ]
    graph = helper.make_graph(
        nodes, "int8_convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes]),
         helper.make_tensor_value_info("features", TensorProto.INT8, [1, 16, s2, s2])],
        inits,
    )
    return _save(graph, path, {"rcnn.preprocess": "torchvision"})


def identity_net(path: str | Path, dims: list[int | str], preprocess: str | None = None) -> Path:
    """y = x for a float input of the given dims (names are symbolic): shows exactly what a runner fed in."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
    )
    return _save(graph, path, {"rcnn.preprocess": preprocess} if preprocess else {})


def resnet_float(size: int = 224, widths: tuple[int, ...] = (32, 64), blocks: int = 1, classes: int = 10,
                 seed: int = 0) -> onnx.ModelProto:
    """A float ResNet-style classifier, batch norm already folded into conv biases (what export produces).

    stem conv 7x7/2 + ReLU + max-pool 3x3/2, then per width: `blocks` basic blocks (conv3x3+ReLU, conv3x3, residual
    add, ReLU; the first block of a later stage strides by 2 with a 1x1 projection), global average pool, matmul head.
    """
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def conv(x: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        name = f"conv{len(nodes)}"
        std = (2.0 / (cin * k * k)) ** 0.5
        inits.append(_init(f"{name}_w", rng.normal(0, std, (cout, cin, k, k)).astype(np.float32)))
        inits.append(_init(f"{name}_b", rng.normal(0, 0.05, cout).astype(np.float32)))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name, strides=[stride] * 2,
                                      pads=[k // 2] * 4))
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}_relu"], name=f"{name}_relu"))
        return f"{name}_relu"

    x = conv("x", 3, widths[0], 7, 2, relu=True)
    nodes.append(helper.make_node("MaxPool", [x], ["stem_pool"], name="stem_pool", kernel_shape=[3, 3],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = "stem_pool", widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            y = conv(conv(x, cin, width, 3, stride, relu=True), width, width, 3, 1, relu=False)
            shortcut = x if stride == 1 and cin == width else conv(x, cin, width, 1, stride, relu=False)
            add = f"add{len(nodes)}"
            nodes.append(helper.make_node("Add", [y, shortcut], [add], name=add))
            nodes.append(helper.make_node("Relu", [add], [f"{add}_relu"], name=f"{add}_relu"))
            x, cin = f"{add}_relu", width
    inits.append(_init("fc_w", rng.normal(0, 0.1, (cin, classes)).astype(np.float32)))
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("MatMul", ["flat", "fc_w"], ["logits"], name="fc")]
    graph = helper.make_graph(nodes, "resnet_float", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [1, 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rcnn.testnets")
    model.ir_version = IR_VERSION
    return model


class QNet:
    """An int8 QOperator graph under construction; every tensor's scale is remembered for its consumers."""

    def __init__(self, seed: int = 0, dtype: type = np.int8) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.scale: dict[str, float] = {}
        self.zp_name: dict[str, str] = {}
        self.dtype = dtype
        self.inputs: list[onnx.ValueInfoProto] = []
        self._n = 0

    def _name(self, base: str) -> str:
        self._n += 1
        return f"{base}{self._n}"

    def const(self, base: str, value: np.ndarray) -> str:
        name = self._name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def zero_point(self, value: int = 0, dtype: type | None = None) -> str:
        return self.const("zp", np.array(value, dtype=dtype or self.dtype))

    def float_input(self, name: str, shape: list[int]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def int8_input(self, name: str, shape: list[int], scale: float) -> str:
        elem = TensorProto.INT8 if self.dtype == np.int8 else TensorProto.UINT8
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        self.scale[name] = scale
        self.zp_name[name] = self.zero_point()
        return name

    def node(self, op: str, inputs: list[str], out_base: str, domain: str = "", **attrs: object) -> str:
        out = self._name(out_base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{out}_{op}", domain=domain, **attrs))
        return out

    def quantize(self, x: str, scale: float, zp: int = 0) -> str:
        s = self.const("s", np.float32(scale))
        z = self.zero_point(zp)
        out = self.node("QuantizeLinear", [x, s, z], "q")
        self.scale[out], self.zp_name[out] = scale, z
        return out

    def dequantize(self, x: str) -> str:
        return self.node("DequantizeLinear", [x, self.const("s", np.float32(self.scale[x])), self.zp_name[x]], "dq")

    def _qparams(self, x: str, y_scale: float, y_zp: int) -> tuple[str, str, str, str]:
        return (self.const("s", np.float32(self.scale[x])), self.zp_name[x], self.const("s", np.float32(y_scale)),
                self.zero_point(y_zp))

    def qconv(self, x: str, cin: int, cout: int, k: int = 3, *, y_scale: float = 0.05, pads: int | list[int] = 1,
              stride: int = 1, group: int = 1, w_scale: float | list[float] = 0.004, w_zp: int = 0, y_zp: int = 0,
              bias: bool = True, bias_offset: int = 0, **attrs: object) -> str:
        xs, xz, ys, yz = self._qparams(x, y_scale, y_zp)
        low, high = (-127, 128) if self.dtype == np.int8 else (0, 256)
        w = self.const("w", self.rng.integers(low, high, (cout, cin // group, k, k)).astype(self.dtype))
        ws = self.const("ws", np.array(w_scale, dtype=np.float32))
        wz = self.const("wz", np.full(np.shape(w_scale), w_zp, dtype=self.dtype))
        b = [self.const("b", (self.rng.integers(-2000, 2000, cout) + bias_offset).astype(np.int32))] if bias else []
        out = self.node("QLinearConv", [x, xs, xz, w, ws, wz, ys, yz, *b], "conv",
                        pads=[pads] * 4 if isinstance(pads, int) else pads,
                        strides=[stride, stride], group=group, **attrs)
        self.scale[out], self.zp_name[out] = y_scale, yz
        return out

    def qmatmul(self, a: str, k: int, n: int, *, y_scale: float = 0.1, b_scale: float = 0.004,
                constant_b: bool = True) -> str:
        as_, az, ys, yz = self._qparams(a, y_scale, 0)
        b = self.const("fc", self.rng.integers(-127, 128, (k, n)).astype(self.dtype)) if constant_b else a
        bs, bz = self.const("s", np.float32(b_scale)), self.zero_point()
        out = self.node("QLinearMatMul", [a, as_, az, b, bs, bz, ys, yz], "mm")
        self.scale[out], self.zp_name[out] = y_scale, yz
        return out

    def qadd(self, a: str, b: str, *, c_scale: float = 0.08) -> str:
        as_, az, cs, cz = self._qparams(a, c_scale, 0)
        bs, bz = self.const("s", np.float32(self.scale[b])), self.zp_name[b]
        out = self.node("QLinearAdd", [a, as_, az, b, bs, bz, cs, cz], "add", domain="com.microsoft")
        self.scale[out], self.zp_name[out] = c_scale, cz
        return out

    def passthrough(self, op: str, x: str, **attrs: object) -> str:
        """An op that keeps the quantization of its input (Relu, MaxPool, Reshape, Flatten on int8)."""
        out = self.node(op, [x], op.lower(), **attrs)
        self.scale[out], self.zp_name[out] = self.scale[x], self.zp_name[x]
        return out

    def reshape(self, x: str, shape: list[int]) -> str:
        out = self.node("Reshape", [x, self.const("shape", np.array(shape, dtype=np.int64))], "reshape")
        self.scale[out], self.zp_name[out] = self.scale[x], self.zp_name[x]
        return out

    def model(self, outputs: list[str], name: str = "qnet") -> onnx.ModelProto:
        """The model with these graph outputs (types and shapes from onnx shape inference, com.microsoft aside)."""
        graph = helper.make_graph(self.nodes, name, self.inputs, [], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                        helper.make_opsetid("com.microsoft", 1)],
                                  producer_name="rcnn.testnets")
        model.ir_version = IR_VERSION
        from rcnn.onnxgraph.graph_index import GraphIndex

        types = GraphIndex(model).types
        for out in outputs:
            t = types[out]
            model.graph.output.append(helper.make_tensor_value_info(out, t.elem, list(t.dims or [])))
        return model


def resnet_block(size: int = 16, channels: int = 8, classes: int = 10, seed: int = 0,
                 opset: int = OPSET) -> onnx.ModelProto:
    """A float ResNet-style block: conv+relu, conv+relu, conv, residual add, relu, maxpool, global avg pool, matmul."""
    rng = np.random.default_rng(seed)
    c = channels

    def init(name: str, *shape: int, std: float = 0.2) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, std, shape).astype(np.float32), name)

    inits = [init("w0", c, 3, 3, 3, std=0.3), init("b0", c, std=0.1), init("w1", c, c, 3, 3), init("b1", c, std=0.1),
             init("w2", c, c, 3, 3), init("b2", c, std=0.1), init("fc", c, classes, std=0.3)]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1], name="conv0"),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "r0"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "fc"], ["y"], name="head"),
    ]
    graph = helper.make_graph(nodes, "resnet_block", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [1, 3, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rcnn")
    model.ir_version = IR_VERSION
    return model


def quantize_qoperator(model: onnx.ModelProto, *, samples: int = 4, seed: int = 0, uint8: bool = False,
                       per_channel: bool = False, symmetric: bool = True,
                       op_types: tuple[str, ...] = ("Conv", "MatMul", "Add", "Relu", "MaxPool")) -> onnx.ModelProto:
    """quantize_static in QOperator format with a tiny random calibration set (shapes from the model's inputs)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from rcnn.quant.prepare import quiet_ort_logging

    rng = np.random.default_rng(seed)
    shapes = {i.name: [d.dim_value or 1 for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    batches = [{n: rng.random(s, dtype=np.float32) for n, s in shapes.items()} for _ in range(samples)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    qtype = QuantType.QUInt8 if uint8 else QuantType.QInt8
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "float.onnx", Path(d) / "quant.onnx"
        onnx.save(model, str(src))
        with quiet_ort_logging():  # its advice (pre-process first, QDQ on x64) is noise for a test model
            quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator, activation_type=qtype,
                            weight_type=qtype, per_channel=per_channel, op_types_to_quantize=list(op_types),
                            extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": symmetric})
        return onnx.load(str(dst))


def demo_image(path: str | Path, size: int = 96, seed: int = 0) -> Path:
    """A synthetic picture: a circle, a square and a triangle on a shaded background (PNG, lossless)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    background = np.stack([40 + xx, 60 + yy, 120 + (xx + yy) // 4], axis=-1) % 256
    im = Image.fromarray(background.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(3)]
    s = size // 4
    draw.ellipse([s // 2, s // 2, s // 2 + s, s // 2 + s], fill=colours[0])
    draw.rectangle([2 * s, s, 2 * s + s, 2 * s], fill=colours[1])
    draw.polygon([(s, 3 * s + s // 2), (s + s, 3 * s + s // 2), (s + s // 2, 2 * s + s // 3)], fill=colours[2])
    path = Path(path)
    im.save(path)
    return path


def regenerate_demo_data() -> list[Path]:
    """Regenerate the built-in demo files shipped in rcnn/data (python -m rcnn.testnets); returns their paths."""
    from rcnn.paths import DATA_DIR

    DATA_DIR.mkdir(exist_ok=True)
    return [int8_convnet(DATA_DIR / "demo_int8.onnx", size=64), demo_image(DATA_DIR / "demo.png")]
