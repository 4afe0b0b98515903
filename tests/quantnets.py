"""Small float nets for the quantization tests, built with onnx.helper, and a calibration-set writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rcnn.runtime.tensors import save_tensor


def _f32(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def bn_gemm_net(opset: int = 13, ir: int = 8, seed: int = 0) -> onnx.ModelProto:
    """Conv -> BN -> Relu -> Sum(residual) -> Relu -> MaxPool -> Flatten -> two Gemms sharing B (transB) -> Mul."""
    rng = np.random.default_rng(seed)
    inits = [_f32("w", rng.normal(0, 0.3, (4, 3, 3, 3))), _f32("b", rng.normal(0, 0.1, 4)),
             _f32("bn_s", rng.random(4) + 0.5), _f32("bn_b", rng.normal(0, 0.1, 4)),
             _f32("bn_m", rng.normal(0, 0.1, 4)), _f32("bn_v", rng.random(4) + 0.5),
             _f32("w2", rng.normal(0, 0.3, (4, 4, 3, 3))),
             _f32("B", rng.normal(0, 0.2, (5, 64))), _f32("C", rng.normal(0, 0.1, 5)), _f32("k", np.full(5, 0.5))]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Sum", ["c2", "r1"], ["s"], name="sum"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "B", "C"], ["g1"], name="gemm1", transB=1),
        helper.make_node("Gemm", ["f", "B"], ["g2"], name="gemm2", transB=1),
        helper.make_node("Mul", ["g1", "k"], ["y1"], name="mul"),
    ]
    graph = helper.make_graph(nodes, "bn_gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, 5]),
                               helper.make_tensor_value_info("g2", TensorProto.FLOAT, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir
    return model


def write_dataset(root: Path, shape: tuple[int, ...], samples: int = 4, seed: int = 0, scale: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(samples):
        save_tensor((rng.random(shape) * scale).astype(np.float32), root / f"test_data_set_{i}" / "input_0.pb", "x")
    return root


def run_ort(model: onnx.ModelProto | Path, feeds: dict[str, np.ndarray], level: int = 0) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel(level)
    so.log_severity_level = 3
    data = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)
