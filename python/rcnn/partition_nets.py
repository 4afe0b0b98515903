"""Small QOperator networks for the partitioner's tests and demos.

`QNet` writes int8 QOperator graphs node by node with onnx.helper (symmetric by default, every knob the partitioner
looks at can be turned: uint8, zero points, per-channel scales, broadcasting adds...). `resnet_block()` is a float
ResNet-style block (conv+relu, conv, residual add, relu, maxpool, global average pool, matmul head) and
`quantize_qoperator()` quantizes a float model the way the project does (onnxruntime.quantization.quantize_static,
QOperator, QInt8 activations and weights, symmetric, per-tensor unless asked).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21
IR_VERSION = 10


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
                                  producer_name="rcnn.partition_nets")
        model.ir_version = IR_VERSION
        from rcnn.graph_index import GraphIndex

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
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator, activation_type=qtype,
                        weight_type=qtype, per_channel=per_channel, op_types_to_quantize=list(op_types),
                        extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": symmetric})
        return onnx.load(str(dst))


def main(argv: list[str] | None = None) -> int:
    """python -m rcnn.partition_nets OUT.onnx [SIZE CHANNELS]: write the int8 ResNet-style demo block."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 3:
        print("usage: python -m rcnn.partition_nets OUT.onnx [SIZE [CHANNELS]]", file=sys.stderr)
        return 2
    size, channels = (int(a) for a in [*args[1:], "56", "32"][:2])
    onnx.save(quantize_qoperator(resnet_block(size=size, channels=channels)), args[0])
    print(args[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
