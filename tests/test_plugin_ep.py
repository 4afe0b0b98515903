"""The Systolic plugin execution provider (ep/ort, librcnn_systolic_ep.so) inside the PyPI wheel's ORT.

The library comes from rcnn.paths.host_ep_library(): $RCNN_EP_LIB, pip's rcnn/lib copy (setup.sh builds it against
the sysroot's ORT >= 1.23 headers), or a by-hand build in build/host/. The tests fail when no library is built.

References:
- QOperator models: ONNX Runtime's CPU EP on the same model with each com.microsoft QLinearAdd replaced by Gemmini's
  resadd written in standard ops (each input scaled, rounded and saturated on its own): bit for bit, every mode.
  QLinearAdd itself is within 1 LSB of the accelerator's resadd (ratios <= 1), tested on its own.
- QDQ models (quantize_static): ONNX Runtime's CPU EP at its default optimizations. On x86 it keeps some QDQ Convs
  in float (DequantizeLinear -> float Conv -> QuantizeLinear, see the optimized model), which can round 1 LSB away
  from the integer op the EP runs: the quantized output is asserted within 1 LSB, and the three modes identical.
  The CPU EP at ORT_ENABLE_BASIC (every QDQ unit simulated in float) agrees bit for bit on these inputs.
- Float models on the fp32 accelerator config: ONNX Runtime's CPU EP within FP32_RTOL / FP32_ATOL (the two sum the
  float products in different orders); the EP's three modes bit-identical to each other on this network.
- uint8 weights: taken as w - zero point when every such value fits int8 (exact, so bit-identical like the int8
  QOperator models), otherwise declined with the zero point and the span in the reason.
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn.models import testnets
from resadd_reference import resadd_reference

from conftest import ROOT

MODES = (0, 1, 2)
SIZE = 32
FP32_CONFIG = ROOT / "ep" / "systolic" / "accelerator_fp32.toml"
# Measured: at most 3.6e-7 absolute on logits up to 2.6 (a few float32 ulps); the bound leaves room for other
# summation orders (CPUs, MLAS kernels) without letting a wrong tap or bias through.
FP32_RTOL, FP32_ATOL = 1e-5, 1e-5


def _reader(samples: int = 4, seed: int = 0) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    rng = np.random.default_rng(seed)
    batches = [{"x": rng.random((1, 3, SIZE, SIZE), dtype=np.float32)} for _ in range(samples)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    return Reader()


@pytest.fixture(scope="module")
def float_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ep") / "resnet_float.onnx"
    onnx.save(testnets.resnet_float(size=SIZE, widths=(8, 16), blocks=1), str(path))
    return path


def _quantize(src: Path, name: str, **kwargs: Any) -> Path:
    from onnxruntime.quantization import quantize_static

    dst = src.parent / f"{name}.onnx"
    if not dst.exists():
        quantize_static(str(src), str(dst), _reader(), **kwargs)
    return dst


def _qoperator(src: Path, uint8: bool) -> Path:
    from onnxruntime.quantization import QuantFormat, QuantType

    extra = {"ActivationSymmetric": not uint8, "WeightSymmetric": True}
    # uint8 x int8 on an x86 CPU without VNNI: MLAS's u8s8 kernels (vpmaddubsw) saturate int16 pair sums, so ORT's
    # CPU EP is not exact integer arithmetic for full-range weights (test_uint8_conv_is_exact_integer_arithmetic);
    # reduce_range (7-bit weights, ORT's documented remedy) keeps the reference exact.
    return _quantize(src, f"qop_{'u8' if uint8 else 's8'}", quant_format=QuantFormat.QOperator,
                     activation_type=QuantType.QUInt8 if uint8 else QuantType.QInt8, weight_type=QuantType.QInt8,
                     reduce_range=uint8, extra_options=extra)


def _inputs(seeds: int = 4) -> list[dict[str, np.ndarray]]:
    return [{"x": np.random.default_rng(100 + s).random((1, 3, SIZE, SIZE), dtype=np.float32) * (1 + s % 2)}
            for s in range(seeds)]


def _cpu(model: Path | bytes, level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
         ) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = level
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), so,
                                providers=["CPUExecutionProvider"])


def _with_quantized_output(model: Path) -> Path:
    """The model with the quantized tensor in front of each final DequantizeLinear as an extra graph output."""
    m = onnx.load(str(model))
    types = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    zero_points = {i.name: i.data_type for i in m.graph.initializer}
    outputs = {o.name for o in m.graph.output}
    for node in m.graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in outputs:
            # After a com.microsoft op shape inference may know no type: the zero point's is the tensor's.
            m.graph.output.append(types.get(node.input[0]) or helper.make_tensor_value_info(
                node.input[0], zero_points[node.input[2]], None))
    dst = model.with_name(model.stem + "_q.onnx")
    onnx.save(m, str(dst))
    return dst


def _assert_equal(ref: list[np.ndarray], got: list[np.ndarray], what: str) -> None:
    for i, (r, g) in enumerate(zip(ref, got, strict=True)):
        assert r.dtype == g.dtype and r.shape == g.shape, what
        assert np.array_equal(r, g), f"{what}: output {i} differs in {(r != g).sum()} of {r.size} elements"


# ---- loading, devices, options -----------------------------------------------------------------------------------


def test_library_exports_only_the_entry_points(systolic: Any) -> None:
    from test_exported_symbols import elf_defined_dynamic_symbols

    assert elf_defined_dynamic_symbols(systolic.library_path()) == {"CreateEpFactories", "ReleaseEpFactory",
                                                                     "RcnnSystolicEpReport"}


def test_ep_loads_and_lists_its_device(systolic: Any) -> None:
    devices = [d for d in ort.get_ep_devices() if d.ep_name == systolic.EP_NAME]
    assert len(devices) == 1
    assert devices[0].ep_vendor == "rcnn"
    assert ort.__version__.startswith("1.")


@pytest.mark.parametrize("options, message", [
    ({"mode": 7}, "execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'"),
    ({"dim": 3}, "dim = 3"),
    ({"config": "dim = 16\nrows = 4\n"}, "config:2: unknown key 'rows'"),
    ({"threads": 0}, "threads must be an integer in 1..1024"),
])
def test_bad_option_is_an_exception_with_the_eps_message(systolic: Any, float_model: Path,
                                                          options: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match="rcnn systolic EP: bad provider option") as info:
        systolic.session(float_model, **options)
    assert message in str(info.value)
    # The process goes on, and a good session works after the failed one.
    s = systolic.session(float_model, mode=0)
    assert s.run(None, _inputs(1)[0])[0].shape == (1, 10)


def test_unknown_option_key_is_refused(systolic: Any, float_model: Path) -> None:
    so = ort.SessionOptions()
    so.add_provider_for_devices([systolic.ep_device()], {"exection": "2"})
    with pytest.raises(Exception, match="rcnn systolic EP: bad provider option: unknown option 'exection'"):
        ort.InferenceSession(str(float_model), so, enable_fallback=0)


def test_float_model_stays_on_the_cpu_ep(systolic: Any, float_model: Path) -> None:
    s = systolic.session(float_model, mode=2)
    feeds = _inputs(1)[0]
    np.testing.assert_array_equal(s.run(None, feeds)[0], _cpu(float_model).run(None, feeds)[0])
    r = systolic.report(s)
    assert r["summary"]["nodes_on_accelerator"] == 0 and r["summary"]["compiled_nodes"] == 0
    convs = [n for n in r["nodes"] if n["op"] == "Conv"]
    assert convs and all("float Conv: the accelerator config is int8" in n["reason"] for n in convs)
    assert all(n["reason"] for n in r["nodes"])
    assert r["total"]["calls"] == 0


# ---- float models on the fp32 accelerator config --------------------------------------------------------------------


def test_fp32_config_runs_the_float_resnet(systolic: Any, float_model: Path) -> None:
    cpu = _cpu(float_model)
    results: dict[int, list[np.ndarray]] = {}
    for mode in MODES:
        s = systolic.session(float_model, mode=mode, config=FP32_CONFIG)
        results[mode] = [s.run(None, feeds)[0] for feeds in _inputs()]
        r = systolic.report(s)
        assert r["config"]["elem"] == "fp32"
        assert r["summary"]["accelerator_mac_fraction"] >= 0.95, r["summary"]
        units = {n["unit"] for n in r["nodes"] if n["placement"] == "accelerator"}
        assert any(u.startswith("Conv (float, relu, maxpool)") for u in units), units  # the stem: conv+relu+pool
        assert any(u.startswith("MatMul (float)") for u in units), units
        assert all(n["reason"] for n in r["nodes"] if n["placement"] == "cpu")
        assert r["ops"]["Conv"]["calls"] > 0 and r["ops"]["MatMul"]["calls"] > 0
        assert r["ops"]["QConv"]["calls"] == 0
        assert r["total"]["macs"] == r["summary"]["macs_accelerator"] * len(_inputs())
        assert (r["total"]["cycles"] > 0) == (mode != 0)
    for mode in MODES[1:]:
        for a, b in zip(results[0], results[mode], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"mode 0 vs mode {mode}")
    for feeds, got in zip(_inputs(), results[0], strict=True):
        want = cpu.run(None, feeds)[0]
        assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=FP32_RTOL, atol=FP32_ATOL)


def test_fp32_config_declines_quantized_ops(systolic: Any, float_model: Path) -> None:
    s = systolic.session(_qoperator(float_model, False), mode=2, config=FP32_CONFIG)
    r = systolic.report(s)
    assert r["summary"]["nodes_on_accelerator"] == 0
    convs = [n for n in r["nodes"] if n["op"] == "QLinearConv"]
    assert convs and all("quantized QLinearConv: the accelerator config is fp32" in n["reason"] for n in convs)


# ---- QOperator: bit-exact ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("uint8", [False, True], ids=["int8", "uint8_activations"])
@pytest.mark.parametrize("mode", MODES)
def test_qoperator_resnet_bit_exact(systolic: Any, float_model: Path, uint8: bool, mode: int) -> None:
    model = _qoperator(float_model, uint8)
    s = systolic.session(model, mode=mode)
    names = {n["name"] for n in systolic.report(s)["nodes"] if n["placement"] == "accelerator"}
    ref = _cpu(resadd_reference(model, names), ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for feeds in _inputs():
        _assert_equal(ref.run(None, feeds), s.run(None, feeds), f"mode {mode}")
    r = systolic.report(s)
    assert r["summary"]["accelerator_mac_fraction"] == 1.0
    placed = {n["op"] for n in r["nodes"] if n["placement"] == "accelerator"}
    assert {"QLinearConv", "QLinearMatMul"} <= placed
    if not uint8:  # this model's adds have scale ratios <= 1: the accelerator's resadd runs them
        assert "QLinearAdd" in placed
        # quantize_static's symmetric int8 leaves DequantizeLinear -> Relu -> QuantizeLinear between the convs
        assert {"DequantizeLinear", "Relu", "QuantizeLinear"} <= placed
    assert r["runs"] == len(_inputs()) and r["compiled_node_runs"] == len(_inputs()) * r["summary"]["compiled_nodes"]
    assert r["total"]["macs"] == r["summary"]["macs_accelerator"] * len(_inputs())
    assert (r["total"]["cycles"] > 0) == (mode != 0)


def test_threads_do_not_change_results(systolic: Any, float_model: Path) -> None:
    model = _qoperator(float_model, False)
    one, two = systolic.session(model, mode=2, threads=1), systolic.session(model, mode=2, threads=2)
    for feeds in _inputs():
        _assert_equal(one.run(None, feeds), two.run(None, feeds), "threads 1 vs 2")
    assert systolic.report(two)["threads"] == 2


def test_qlinearadd_within_one_lsb(systolic: Any, tmp_path: Path) -> None:
    shape = [1, 8, 6, 6]
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(np.float32(v), k) for k, v in (("as", 0.05), ("bs", 0.04), ("cs", 0.07))]
    inits += [numpy_helper.from_array(np.int8(0), k) for k in ("az", "bz", "cz")]
    nodes = [helper.make_node("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["c"], name="add",
                              domain="com.microsoft")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.INT8, shape) for n in "ab"],
                              [helper.make_tensor_value_info("c", TensorProto.INT8, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)], ir_version=8)
    path = tmp_path / "add.onnx"
    onnx.save(model, str(path))
    feeds = {n: rng.integers(-128, 128, shape).astype(np.int8) for n in "ab"}
    want = _cpu(path).run(None, feeds)[0].astype(np.int32)
    for mode in MODES:
        s = systolic.session(path, mode=mode)
        got = s.run(None, feeds)[0].astype(np.int32)
        assert np.abs(got - want).max() <= 1
        assert systolic.report(s)["summary"]["nodes_on_accelerator"] == 1


def test_uint8_conv_is_exact_integer_arithmetic(systolic: Any, tmp_path: Path) -> None:
    """uint8 activations (zero point 7), full-range int8 weights, padding: the EP equals exact integer math
    (NumPy), in every mode (ORT's CPU EP may not on x86 without VNNI, see _qoperator)."""
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (6, 3, 3, 3)).astype(np.int8)
    b = rng.integers(-3000, 3000, 6).astype(np.int32)
    xs, xz, ws, ys, yz = np.float32(0.02), np.uint8(7), np.float32(0.003), np.float32(0.05), np.uint8(100)
    inits = [numpy_helper.from_array(v, k) for k, v in
             (("xs", xs), ("xz", xz), ("w", w), ("ws", ws), ("wz", np.int8(0)), ("ys", ys), ("yz", yz), ("b", b))]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], name="conv",
                            pads=[1, 1, 1, 1], strides=[2, 2])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 3, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    x = rng.integers(0, 256, (1, 3, 9, 9)).astype(np.uint8)
    xp = np.pad(x.astype(np.int64) - int(xz), ((0, 0), (0, 0), (1, 1), (1, 1)))  # ONNX pads with the zero point
    acc = np.zeros((6, 5, 5), np.int64) + b[:, None, None]
    for kh in range(3):
        for kw in range(3):
            acc += np.einsum("chw,oc->ohw", xp[0, :, kh:kh + 9:2, kw:kw + 9:2], w[:, :, kh, kw].astype(np.int64))
    mult = np.float32(xs * ws) / ys
    want = np.clip(np.rint(acc.astype(np.float32) * mult) + int(yz), 0, 255).astype(np.uint8)[None]
    for mode in MODES:
        np.testing.assert_array_equal(systolic.session(path, mode=mode).run(None, {"x": x})[0], want)


def _check_table_tail(systolic: Any, path: Path, u8: bool, ratio: float, zeros: tuple[int, int, int],
                      tail: list[onnx.NodeProto], unit: str) -> None:
    """QLinearConv (identity: every one of the 256 input values passes through) -> `tail` (from "c" to "y", which
    QuantizeLinear makes with scale 0.05 * ratio and zero point zeros[2]): in every mode the EP equals the CPU EP,
    which agrees with itself without and with its graph optimizations, and every node is on the accelerator."""
    qt, lo = (TensorProto.UINT8, 0) if u8 else (TensorProto.INT8, -128)
    dt = np.uint8 if u8 else np.int8
    x = np.arange(lo, lo + 256).astype(dt).reshape(1, 1, 16, 16)
    inits = [numpy_helper.from_array(v, k) for k, v in (
        ("s", np.float32(0.05)), ("zx", dt(zeros[0])), ("zy", dt(zeros[1])), ("w", np.ones((1, 1, 1, 1), np.int8)),
        ("ws", np.float32(1.0)), ("wz", np.int8(0)), ("rs", np.float32(0.05 * ratio)), ("zr", dt(zeros[2])))]
    conv = helper.make_node("QLinearConv", ["x", "s", "zx", "w", "ws", "wz", "s", "zy"], ["c"], name="conv")
    graph = helper.make_graph([conv, *tail], "g", [helper.make_tensor_value_info("x", qt, [1, 1, 16, 16])],
                              [helper.make_tensor_value_info("y", qt, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    wants = [_cpu(path.read_bytes(), level).run(None, {"x": x})[0]
             for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)]
    np.testing.assert_array_equal(wants[0], wants[1])
    assert len(np.unique(wants[0])) > 30  # the table is not trivially flat
    for mode in MODES:
        s = systolic.session(path, mode=mode)
        np.testing.assert_array_equal(s.run(None, {"x": x})[0], wants[0], err_msg=f"mode {mode}")
        nodes_report = systolic.report(s)["nodes"]
        assert all(n["placement"] == "accelerator" for n in nodes_report), nodes_report
        assert unit in nodes_report[0]["unit"]


@pytest.mark.parametrize("u8", [False, True], ids=["int8", "uint8"])
@pytest.mark.parametrize("ratio", [0.37, 1.0, 1.7, 2.0, 3.1])  # 2.0: ties, rounded half to even
def test_requantizing_relu_after_a_conv_is_exact(systolic: Any, tmp_path: Path, ratio: float, u8: bool) -> None:
    """QLinearConv -> DequantizeLinear -> Relu -> MaxPool -> QuantizeLinear with another scale (what quantize_static's
    QOperator int8 emits for conv -> relu): the EP takes the chain as one unit and maps the conv's output through a
    table built with ONNX Runtime's float operations. Every one of the 256 conv output values, every mode: equal to
    the CPU EP without and with its graph optimizations (which rewrite the float pool into Q/DQ-wrapped int8)."""
    tail = [helper.make_node("DequantizeLinear", ["c", "s", "zy"], ["cf"], name="dq"),
            helper.make_node("Relu", ["cf"], ["r"], name="relu"),
            helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[1, 1]),
            helper.make_node("QuantizeLinear", ["p", "rs", "zr"], ["y"], name="q")]
    _check_table_tail(systolic, tmp_path / "requant.onnx", u8, ratio, (131, 120, 3) if u8 else (-5, 0, 0), tail,
                      "requantized")


@pytest.mark.parametrize("u8", [False, True], ids=["int8", "uint8"])
@pytest.mark.parametrize("dup", [False, True], ids=["one_dq", "two_dq"])
@pytest.mark.parametrize("ratio", [0.21, 0.5, 1.3])
def test_hard_swish_after_a_conv_is_exact(systolic: Any, tmp_path: Path, ratio: float, dup: bool, u8: bool) -> None:
    """QLinearConv -> DequantizeLinear -> HardSigmoid and Mul (x * HardSigmoid(x), torch's hardswish as exported)
    -> QuantizeLinear: what calibration leaves of a MobileNetV3 activation kept float. The EP folds it into the conv
    unit through a 256-entry table of ONNX Runtime's float steps (HardSigmoid's multiply and add rounded apart).
    Every one of the 256 conv output values, every mode, one DequantizeLinear or one per reader (as ORT's own QDQ
    transformers leave it): equal to the CPU EP at both optimization levels, and all nodes placed."""
    dq2 = [helper.make_node("DequantizeLinear", ["c", "s", "zy"], ["cf2"], name="dq2")] if dup else []
    tail = [helper.make_node("DequantizeLinear", ["c", "s", "zy"], ["cf"], name="dq"), *dq2,
            helper.make_node("HardSigmoid", ["cf"], ["h"], name="hsig", alpha=1.0 / 6),
            helper.make_node("Mul", ["cf2" if dup else "cf", "h"], ["m"], name="mul"),
            helper.make_node("QuantizeLinear", ["m", "rs", "zr"], ["y"], name="q")]
    _check_table_tail(systolic, tmp_path / "hswish.onnx", u8, ratio, (131, 120, 40) if u8 else (-5, 3, -20), tail,
                      "hard-swish, requantized")


def _input_quantize_model(path: Path, qdq: bool, u8: bool, channels: int = 3) -> Path:
    """x (float) -> QuantizeLinear -> an identity 1x1 conv (QLinearConv, or DequantizeLinear -> Conv -> QuantizeLinear)
    with the input's own scale and zero point at its output: the conv passes every quantized value through exactly,
    so the output is the QuantizeLinear's result."""
    qt, dt = (TensorProto.UINT8, np.uint8) if u8 else (TensorProto.INT8, np.int8)
    zp = dt(131) if u8 else dt(-5)
    eye = np.eye(channels, dtype=np.int8).reshape(channels, channels, 1, 1)
    inits = [numpy_helper.from_array(v, k) for k, v in (
        ("s", np.float32(0.0371)), ("z", zp), ("w", eye), ("ws", np.float32(1.0)), ("wz", np.int8(0)))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="quantize_x")]
    if qdq:
        nodes += [helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_x"),
                  helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq_w"),
                  helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
                  helper.make_node("QuantizeLinear", ["c", "s", "z"], ["y"], name="q_y")]
    else:
        nodes += [helper.make_node("QLinearConv", ["xq", "s", "z", "w", "ws", "wz", "s", "z"], ["y"], name="conv")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 16, 40])
    graph = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", qt, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _input_quantize_values(seed: int = 0, channels: int = 3) -> np.ndarray:
    """Values that test a QuantizeLinear: every half-way point in and beyond the int8 range (ties round to even),
    saturation, infinities, NaN, signed zeros, subnormals, random values."""
    s = np.float32(0.0371)
    ties = (np.arange(-400, 400, dtype=np.float32) + np.float32(0.5)) * s
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-40, -1e-40, 1e30, -1e30, 127 * s, -128 * s],
                       np.float32)
    rng = np.random.default_rng(seed)
    n = channels * 16 * 40
    rest = (rng.standard_normal(n - ties.size - special.size) * 4).astype(np.float32)
    return np.concatenate([ties, special, rest]).reshape(1, channels, 16, 40)


@pytest.mark.parametrize("u8", [False, True], ids=["int8", "uint8"])
@pytest.mark.parametrize("qdq", [False, True], ids=["qoperator", "qdq"])
def test_input_quantize_is_taken_and_exact(systolic: Any, tmp_path: Path, qdq: bool, u8: bool) -> None:
    """A QuantizeLinear feeding a unit alone joins it: the float input enters the chain and is quantized there (on
    the device in device mode). Equal to ONNX Runtime's QuantizeLinear (CPU EP) on ties, saturation, inf and NaN,
    in every mode; the report puts the QuantizeLinear on the accelerator."""
    path = _input_quantize_model(tmp_path / "q.onnx", qdq, u8)
    x = _input_quantize_values()
    want = _cpu(path.read_bytes(), ort.GraphOptimizationLevel.ORT_DISABLE_ALL).run(None, {"x": x})[0]
    for mode in MODES:
        s = systolic.session(path, mode=mode)
        np.testing.assert_array_equal(s.run(None, {"x": x})[0], want, err_msg=f"mode {mode}")
        nodes = {n["name"]: n for n in systolic.report(s)["nodes"]}
        assert nodes["quantize_x"]["placement"] == "accelerator", nodes
        assert "quantizes its float input" in nodes["quantize_x"]["unit"]


def test_input_quantize_with_other_readers_stays_on_the_cpu(systolic: Any, tmp_path: Path) -> None:
    """The quantized tensor is also a graph output: the QuantizeLinear stays on the CPU EP (its result is needed
    there), the conv still runs on the accelerator."""
    path = _input_quantize_model(tmp_path / "q.onnx", False, False)
    m = onnx.load(str(path))
    m.graph.output.append(helper.make_tensor_value_info("xq", TensorProto.INT8, None))
    onnx.save(m, str(path))
    s = systolic.session(path, mode=2)
    x = _input_quantize_values()
    want = _cpu(path.read_bytes()).run(None, {"x": x})
    _assert_equal(want, s.run(None, {"x": x}), "graph output quantized")
    nodes = {n["name"]: n for n in systolic.report(s)["nodes"]}
    assert nodes["quantize_x"]["placement"] == "cpu" and nodes["conv"]["placement"] == "accelerator", nodes


# ---- uint8 weights --------------------------------------------------------------------------------------------------


def _qoperator_u8_weights(src: Path, symmetric: bool) -> Path:
    from onnxruntime.quantization import QuantFormat, QuantType

    return _quantize(src, f"qop_u8w_{'sym' if symmetric else 'asym'}", quant_format=QuantFormat.QOperator,
                     activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8,
                     extra_options={"WeightSymmetric": symmetric})


@pytest.mark.parametrize("mode", MODES)
def test_uint8_weights_symmetric_placed_and_exact(systolic: Any, float_model: Path, mode: int) -> None:
    """Symmetric uint8 weights have zero point 128 and values in [1, 255]: w - 128 fits int8, every conv and the
    matmul run on the accelerator, bit-identical to the CPU EP (uint8 x uint8 is exact in MLAS)."""
    model = _qoperator_u8_weights(float_model, True)
    s = systolic.session(model, mode=mode)
    r = systolic.report(s)
    assert r["summary"]["accelerator_mac_fraction"] == 1.0, r["summary"]
    units = [n["unit"] for n in r["nodes"] if n["op"] in ("QLinearConv", "QLinearMatMul")]
    assert units and all("uint8 weights" in u for u in units), units
    names = {n["name"] for n in r["nodes"] if n["placement"] == "accelerator"}
    ref = _cpu(resadd_reference(model, names), ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for feeds in _inputs():
        _assert_equal(ref.run(None, feeds), s.run(None, feeds), f"mode {mode}")


def test_uint8_weights_asymmetric_declined_with_the_span(systolic: Any, float_model: Path) -> None:
    """Asymmetric uint8 weights use the whole [0, 255] around a zero point != 128: w - zp leaves int8, so those
    nodes stay on the CPU EP and say why; whatever was placed is still exact."""
    model = _qoperator_u8_weights(float_model, False)
    s = systolic.session(model, mode=2)
    r = systolic.report(s)
    declined = [n for n in r["nodes"] if n["op"] in ("QLinearConv", "QLinearMatMul") and n["placement"] == "cpu"]
    assert declined
    for n in declined:
        assert re.fullmatch(r"uint8 (weights|B) with zero point \d+: w - zero point spans \[-?\d+, -?\d+\], outside "
                            r"int8 \(the accelerator's weights are int8 with zero point 0\)", n["reason"]), n["reason"]
    assert r["summary"]["accelerator_mac_fraction"] < 0.5
    names = {n["name"] for n in r["nodes"] if n["placement"] == "accelerator"}
    ref = _cpu(resadd_reference(model, names), ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for feeds in _inputs():
        _assert_equal(ref.run(None, feeds), s.run(None, feeds), "mode 2")


# ---- QDQ (quantize_static) ---------------------------------------------------------------------------------------


def _check_qdq(systolic: Any, model: Path) -> dict[str, Any]:
    q = _with_quantized_output(model)
    cpu = _cpu(q)
    results: dict[int, list[list[np.ndarray]]] = {}
    for mode in MODES:
        s = systolic.session(q, mode=mode)
        results[mode] = [s.run(None, feeds) for feeds in _inputs()]
        report = systolic.report(s)
    for mode in MODES[1:]:
        for a, b in zip(results[0], results[mode], strict=True):
            _assert_equal(a, b, f"mode 0 vs mode {mode}")
    basic = _cpu(q, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    for feeds, got in zip(_inputs(), results[0], strict=True):
        want = cpu.run(None, feeds)
        for w, g in zip(want, got, strict=True):
            if w.dtype in (np.int8, np.uint8):
                assert np.abs(w.astype(np.int32) - g.astype(np.int32)).max() <= 1
        # ORT without its QDQ fusions (DequantizeLinear -> float op -> QuantizeLinear) agrees bit for bit here.
        _assert_equal(basic.run(None, feeds), got, "vs ORT_ENABLE_BASIC")
    return report


def test_qdq_quantize_static_defaults(systolic: Any, float_model: Path) -> None:
    report = _check_qdq(systolic, _quantize(float_model, "qdq_default"))
    assert report["summary"]["accelerator_mac_fraction"] >= 0.95, report["summary"]
    units = [n["unit"] for n in report["nodes"] if n["placement"] == "accelerator" and n["op"] == "Conv"]
    assert units and all("qdq" in u for u in units)


def test_qdq_per_channel_uint8(systolic: Any, float_model: Path) -> None:
    from onnxruntime.quantization import QuantType

    model = _quantize(float_model, "qdq_pc_u8", per_channel=True, activation_type=QuantType.QUInt8,
                      reduce_range=True)
    report = _check_qdq(systolic, model)
    assert report["summary"]["accelerator_mac_fraction"] >= 0.95, report["summary"]
    units = [n["unit"] for n in report["nodes"] if n["placement"] == "accelerator" and n["op"] == "Conv"]
    assert any("per-channel" in u and "uint8" in u for u in units), units


# ---- riscv64 under qemu: the same integers -------------------------------------------------------------------------


def _form(float_model: Path, form: str) -> Path:
    from onnxruntime.quantization import QuantType

    if form == "qdq_s8":
        return _quantize(float_model, "qdq_default")
    if form == "qdq_pc_u8":
        return _quantize(float_model, "qdq_pc_u8", per_channel=True, activation_type=QuantType.QUInt8,
                         reduce_range=True)
    return _qoperator(float_model, form == "qop_u8")


@pytest.mark.parametrize("form", ["qdq_s8", "qdq_pc_u8", "qop_s8", "qop_u8"])
def test_riscv64_ep_under_qemu_equals_the_host_ep(systolic: Any, float_model: Path, tmp_path: Path,
                                                  form: str) -> None:
    """The ResNet-style net in the four quantized forms: the riscv64 EP in Debian's ORT 1.23.2 under qemu (ort_test
    --ep-lib) places the same nodes and computes the same outputs as the host EP in the wheel, in WS mode."""
    from rcnn.runtime import runner
    from rcnn.runtime.tensors import save_tensor

    model = _with_quantized_output(_form(float_model, form))
    feeds = _inputs(1)[0]
    save_tensor(feeds["x"], tmp_path / "x.pb", "x")
    host = systolic.session(model, mode=2)
    want = dict(zip([o.name for o in host.get_outputs()], host.run(None, feeds), strict=True))
    config = runner.RunConfig(native=False, execution=2, ep_lib=runner.systolic_ep_library(False), echo=False,
                              session_config={}, timeout=600)
    result = runner.run(model, [tmp_path / "x.pb"], tmp_path, config)
    ran = result.report["systolic_ep"]
    assert ran["summary"] == systolic.report(host)["summary"]
    assert ran["summary"]["accelerator_mac_fraction"] >= 0.95
    for name, value in want.items():
        got = result.outputs[name]
        assert got.dtype == value.dtype and got.shape == value.shape, name
        if value.dtype == np.float32:  # the final DequantizeLinear / float tail: ORT's own kernels, two builds
            np.testing.assert_allclose(got, value, rtol=0, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(got, value, err_msg=name)


# ---- the report ----------------------------------------------------------------------------------------------------


def test_report_file_written_at_session_end(systolic: Any, float_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    s = systolic.session(_qoperator(float_model, False), mode=2, report_file=out)
    s.run(None, _inputs(1)[0])
    del s
    gc.collect()
    data = json.loads(out.read_text())
    assert data["ep"] == systolic.EP_NAME and data["mode"] == "ws" and data["runs"] == 1
    assert data["total"]["cycles"] > 0
    assert not list(tmp_path.glob("report.json.tmp*"))
