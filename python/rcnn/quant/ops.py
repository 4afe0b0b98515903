"""The project's quantization op table: which op types `quantize_static` may turn into int8 (or pass through).

An explicit list is always passed to ORT, because its default list (the union of its QOperator and QDQ registries)
quantizes ops the accelerator runtime has no kernels for (Concat, Softmax, Resize, ... as com.microsoft ops).

| op            | default | why                                                                               |
|---------------|---------|-----------------------------------------------------------------------------------|
| Conv          | on      | QLinearConv: the accelerator's main op                                            |
| MatMul        | on      | QLinearMatMul: the accelerator's other op (Gemm becomes MatMul with --replace_gemm)|
| Add, Mul      | on      | QLinearAdd/QLinearMul (com.microsoft); switchable: BN unrolled into Mul/Add hurts  |
| Relu, Clip    | on      | needed for ORT's range rule (Relu input gets the Relu output's range)            |
| MaxPool       | on      | runs directly on int8                                                             |
| Reshape, Flatten, Transpose, Squeeze, Unsqueeze | on | int8 pass-through, keeps chains int8               |
| Gemm          | off     | QGemm (com.microsoft) has no accelerator kernel; use optimize --replace_gemm      |
| AveragePool, GlobalAveragePool, Concat, Softmax, Resize, Pad | off | com.microsoft QLinear* ops: CPU-only    |

Op types in FLOAT_ONLY are never quantized; a model that has one is a detector, of which only the dense network is
quantized (the detection rule in rcnn.quant.quantize).
"""

from __future__ import annotations

import onnx

OP_TABLE: dict[str, bool] = {
    "Conv": True,
    "MatMul": True,
    "Add": True,
    "Mul": True,
    "Relu": True,
    "Clip": True,
    "MaxPool": True,
    "Reshape": True,
    "Flatten": True,
    "Transpose": True,
    "Squeeze": True,
    "Unsqueeze": True,
    "Gemm": False,
    "AveragePool": False,
    "GlobalAveragePool": False,
    "Concat": False,
    "Softmax": False,
    "Resize": False,
    "Pad": False,
}

# Box decoding, NMS, RoI pooling and what follows them: index/score arithmetic that int8 would ruin.
FLOAT_ONLY: frozenset[str] = frozenset({"NonMaxSuppression", "RoiAlign", "MaxRoiPool", "TopK"})


def is_detector(model: onnx.ModelProto) -> bool:
    """A model with any FLOAT_ONLY op: the detection rule applies (and symbolic shape inference cannot finish)."""
    return any(n.op_type in FLOAT_ONLY for n in model.graph.node)


def op_types_to_quantize(quantize_add: bool = True, quantize_mul: bool = True) -> list[str]:
    """The table's enabled op types, minus Add/Mul when switched off (the seed's registry.py edit, as flags)."""
    off = {op for op, keep in (("Add", quantize_add), ("Mul", quantize_mul)) if not keep}
    return [op for op, on in OP_TABLE.items() if on and op not in off and op not in FLOAT_ONLY]
