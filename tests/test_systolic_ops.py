"""The rcnn.systolic custom-op library (ep/ort) inside ONNX Runtime, against two independent references.

- a NumPy reference of Gemmini's numerics (tests/gemmini_ref.py): must match bit for bit in every mode;
- ONNX Runtime's own QLinearConv / QLinearMatMul on the same int8 tensors (NCHW, transposed): bit for bit too,
  since both compute sat8(rne(float32(acc) * float32((x_s * w_s) / y_s)));
- com.microsoft QLinearAdd: not bit-exact by design (Gemmini rounds and saturates each input separately, ONNX
  rounds once): at most 1 LSB apart while a_scale/c_scale and b_scale/c_scale are <= 1, far more when a ratio
  exceeds 1 and an input saturates before the sum;
- the riscv64 library under qemu (ort_test) against the host library in this process: bit-identical per mode.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import gemmini_ref as ref
from rcnn import paths
from rcnn.runtime import build
from rcnn.runtime.runner import RunConfig, run
from rcnn.runtime.tensors import save_tensor

DOMAIN = "rcnn.systolic"
MODES = (0, 1, 2)
CONV_DEFAULTS = {"strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "group": 1, "relu": 0, "pool": 0,
                 "pool_kernel": [1, 1], "pool_strides": [1, 1], "pool_pads": [0, 0, 0, 0]}


# ---- helpers ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lib() -> str:
    path = paths.host_library()
    if path is None:
        pytest.fail("librcnn_systolic_ops.so is not built: pip install -e . (or cmake --build build/host)")
    return str(path)


def make_model(nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, list]], outputs: dict[str, int],
               inits: dict[str, np.ndarray], opsets: tuple[tuple[str, int], ...] = ((DOMAIN, 1),)) -> bytes:
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(k, t, shape) for k, (t, shape) in inputs.items()],
        [helper.make_tensor_value_info(k, t, None) for k, t in outputs.items()],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    opset_imports = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, v) for d, v in opsets)]
    return helper.make_model(graph, opset_imports=opset_imports, ir_version=8).SerializeToString()


def systolic_session(lib: str, model: bytes, mode: int, **entries: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.add_session_config_entry("systolic.execution", str(mode))  # before registering: read at registration
    for key, value in entries.items():
        so.add_session_config_entry(f"systolic.{key}", value)
    so.register_custom_ops_library(lib)
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def plain_session(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def i8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


def y_scale_for(x_scale: float, w_scale: float, k: int) -> float:
    """An output scale that puts typical accumulators (std ~ 5500 sqrt(K) for uniform int8) around +-60."""
    return float(np.float32(x_scale * w_scale * 5500 * np.sqrt(k) / 60))


def stats_all(lib: str) -> list[dict]:
    """Every registration's statistics (RcnnSystolicStatsAll), from the copy of the library ORT loaded."""
    handle = ctypes.CDLL(lib)  # same path -> the already loaded library, not a second copy
    n = handle.RcnnSystolicStatsAll(None, ctypes.c_size_t(0))
    buf = ctypes.create_string_buffer(n + 64)
    handle.RcnnSystolicStatsAll(buf, ctypes.c_size_t(len(buf)))
    return json.loads(buf.value)["registrations"]


def registration_ids(lib: str) -> set[int]:
    return {r["registration"] for r in stats_all(lib)}


def new_registration(lib: str, before: set[int]) -> dict:
    """The statistics of the one registration made since `before` (the session a test created), whatever the order
    of the list and whatever other tests registered."""
    new = [r for r in stats_all(lib) if r["registration"] not in before]
    assert len(new) == 1, [r["registration"] for r in new]
    return new[0]


# ---- QConv -----------------------------------------------------------------------------------------------------

# (name, N, H, W, C, OC, kh, kw, attrs, bias)
CONV_CASES = [
    ("3x3_pad1_relu", 1, 9, 11, 8, 16, 3, 3, {"pads": [1, 1, 1, 1], "relu": 1}, True),
    ("stride2_asym_pads", 2, 10, 9, 5, 7, 3, 2, {"strides": [2, 3], "pads": [2, 0, 1, 1]}, True),
    ("dilation", 1, 12, 12, 6, 20, 3, 3, {"dilations": [2, 3], "pads": [2, 3, 2, 3]}, False),
    ("groups", 1, 8, 8, 12, 18, 3, 3, {"group": 3, "pads": [1, 1, 1, 1]}, True),
    ("depthwise", 1, 10, 10, 16, 16, 3, 3, {"group": 16, "pads": [1, 1, 1, 1], "relu": 1}, True),
    ("depthwise_x2", 1, 7, 9, 6, 12, 5, 3, {"group": 6, "strides": [2, 1], "pads": [2, 1, 2, 1]}, True),
    ("pool_relu", 1, 12, 12, 4, 24, 3, 3,
     {"pads": [1, 1, 1, 1], "relu": 1, "pool": 1, "pool_kernel": [3, 3], "pool_strides": [2, 2],
      "pool_pads": [1, 1, 1, 1]}, True),
    ("pool_no_relu_zero_pad", 1, 9, 10, 8, 8, 1, 1,
     {"pool": 1, "pool_kernel": [2, 3], "pool_strides": [2, 1], "pool_pads": [1, 0, 0, 2]}, True),
    ("1x1_large_k", 1, 6, 6, 200, 40, 1, 1, {}, True),
    ("ties_pow2_multiplier", 1, 8, 8, 16, 16, 3, 3, {"pads": [1, 1, 1, 1], "scales": (0.5, 0.25, 32.0)}, True),
]


def qconv_case(case: tuple, seed: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray | None]:
    _, n, h, w, c, oc, kh, kw, extra, has_bias = case
    rng = np.random.default_rng(seed)
    extra = dict(extra)
    group = extra.get("group", 1)
    x_s, w_s, y_s = extra.pop("scales", (0.02, 0.01, y_scale_for(0.02, 0.01, kh * kw * c // group)))
    attrs = {**CONV_DEFAULTS, **extra, "x_scale": x_s, "w_scale": w_s, "y_scale": y_s}
    x, wt = i8(rng, n, h, w, c), i8(rng, kh, kw, c // group, oc)
    bias = rng.integers(-20000, 20000, oc).astype(np.int32) if has_bias else None
    return attrs, x, wt, bias


def run_qconv(lib: str, mode: int, attrs: dict, x: np.ndarray, wt: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    inputs = ["x", "w"] + (["b"] if bias is not None else [])
    inits = {"w": wt} | ({"b": bias} if bias is not None else {})
    node = helper.make_node("QConv", inputs, ["y"], domain=DOMAIN, name="conv", **attrs)
    model = make_model([node], {"x": (TensorProto.INT8, list(x.shape))}, {"y": TensorProto.INT8}, inits)
    return systolic_session(lib, model, mode).run(None, {"x": x})[0]


def ort_qlinearconv(attrs: dict, x: np.ndarray, wt: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """ONNX Runtime's QLinearConv on the same int8 data (NCHW/OIHW), then ReLU and the zero-padded pool in NumPy."""
    zp = np.array(0, np.int8)
    inits = {"xs": np.float32(attrs["x_scale"]), "zp": zp, "w": np.ascontiguousarray(wt.transpose(3, 2, 0, 1)),
             "ws": np.float32(attrs["w_scale"]), "ys": np.float32(attrs["y_scale"])}
    inputs = ["x", "xs", "zp", "w", "ws", "zp", "ys", "zp"]
    if bias is not None:
        inits["b"] = bias
        inputs.append("b")
    node = helper.make_node("QLinearConv", inputs, ["y"], strides=attrs["strides"], dilations=attrs["dilations"],
                            pads=attrs["pads"], group=attrs["group"])
    model = make_model([node], {"x": (TensorProto.INT8, None)}, {"y": TensorProto.INT8}, inits, opsets=())
    y = plain_session(model).run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)
    if attrs["relu"]:
        y = np.maximum(y, 0).astype(np.int8)
    if attrs["pool"]:
        y = ref.maxpool_zero_pad(y, attrs["pool_kernel"], attrs["pool_strides"], attrs["pool_pads"])
    return y


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_qconv_matches_numpy_and_ort_in_every_mode(lib: str, case: tuple) -> None:
    attrs, x, wt, bias = qconv_case(case, seed=len(case[0]))
    expected = ref.qconv(x, wt, bias, attrs)
    assert len(np.unique(expected)) > 5, "degenerate test data"
    ort_ref = ort_qlinearconv(attrs, x, wt, bias)
    diff = np.abs(ort_ref.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() == 0, f"ORT QLinearConv differs from the NumPy reference: max {diff.max()} LSB " \
                            f"at {np.count_nonzero(diff)}/{diff.size} elements"
    for mode in MODES:
        y = run_qconv(lib, mode, attrs, x, wt, bias)
        assert y.dtype == np.int8 and y.shape == expected.shape
        np.testing.assert_array_equal(y, expected, err_msg=f"mode {mode}")


# ---- QMatMul ---------------------------------------------------------------------------------------------------

MATMUL_CASES = [  # (name, A shape, N, bias, relu, scales or None)
    ("2d", (37, 70), 29, False, 0, None),
    ("3d_bias_relu", (2, 5, 33), 17, True, 1, None),
    ("4d", (2, 3, 4, 16), 48, False, 0, None),
    ("1d", (100,), 10, True, 0, None),
    ("ties", (20, 64), 24, False, 0, (0.5, 0.25, 32.0)),
]


@pytest.mark.parametrize("case", MATMUL_CASES, ids=[c[0] for c in MATMUL_CASES])
def test_qmatmul_matches_numpy_and_ort_in_every_mode(lib: str, case: tuple) -> None:
    name, a_shape, n, has_bias, relu, scales = case
    rng = np.random.default_rng(len(name) + 100)
    k = a_shape[-1]
    a, b = i8(rng, *a_shape), i8(rng, k, n)
    bias = rng.integers(-20000, 20000, n).astype(np.int32) if has_bias else None
    a_s, b_s, y_s = scales or (0.03, 0.02, y_scale_for(0.03, 0.02, k))
    attrs = {"a_scale": a_s, "b_scale": b_s, "y_scale": y_s, "relu": relu}
    expected = ref.qmatmul(a, b, bias, attrs)
    assert len(np.unique(expected)) > 5

    if bias is None:  # QLinearMatMul has no bias input
        zp = np.array(0, np.int8)
        node = helper.make_node("QLinearMatMul", ["a", "as", "zp", "b", "bs", "zp", "ys", "zp"], ["y"])
        model = make_model([node], {"a": (TensorProto.INT8, None)}, {"y": TensorProto.INT8},
                           {"as": np.float32(a_s), "zp": zp, "b": b, "bs": np.float32(b_s), "ys": np.float32(y_s)},
                           opsets=())
        theirs = plain_session(model).run(None, {"a": a})[0]
        if relu:
            theirs = np.maximum(theirs, 0).astype(np.int8)
        np.testing.assert_array_equal(theirs, expected, err_msg="ORT QLinearMatMul vs NumPy reference")

    inputs = ["a", "b"] + (["bias"] if has_bias else [])
    inits = {"b": b} | ({"bias": bias} if has_bias else {})
    node = helper.make_node("QMatMul", inputs, ["y"], domain=DOMAIN, name="mm", **attrs)
    model = make_model([node], {"a": (TensorProto.INT8, list(a_shape))}, {"y": TensorProto.INT8}, inits)
    for mode in MODES:
        y = systolic_session(lib, model, mode).run(None, {"a": a})[0]
        np.testing.assert_array_equal(y, expected, err_msg=f"mode {mode}")


# ---- QAdd ------------------------------------------------------------------------------------------------------

def qadd_model(attrs: dict) -> bytes:
    node = helper.make_node("QAdd", ["a", "b"], ["c"], domain=DOMAIN, name="add", **attrs)
    t = (TensorProto.INT8, None)
    return make_model([node], {"a": t, "b": t}, {"c": TensorProto.INT8}, {})


def ort_qlinearadd(attrs: dict, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    zp = np.array(0, np.int8)
    node = helper.make_node("QLinearAdd", ["a", "as", "zp", "b", "bs", "zp", "cs", "zp"], ["c"],
                            domain="com.microsoft")
    model = make_model([node], {"a": (TensorProto.INT8, None), "b": (TensorProto.INT8, None)},
                       {"c": TensorProto.INT8},
                       {"as": np.float32(attrs["a_scale"]), "bs": np.float32(attrs["b_scale"]),
                        "cs": np.float32(attrs["c_scale"]), "zp": zp}, opsets=(("com.microsoft", 1),))
    c = plain_session(model).run(None, {"a": a, "b": b})[0]
    return np.maximum(c, 0).astype(np.int8) if attrs["relu"] else c


# Ratios a_scale/c_scale and b_scale/c_scale both <= 1: only the double rounding differs from QLinearAdd.
QADD_SCALES_AT_MOST_1 = [(0.04, 0.05, 0.06), (0.1, 0.1, 0.1), (0.013, 0.029, 0.031), (0.5, 0.25, 0.75)]
# A ratio > 1: Gemmini's scaled mvin also saturates that input to int8 before the sum.
QADD_SCALES_ABOVE_1 = [(0.02, 0.07, 0.05), (0.05, 0.02, 0.04), (0.1, 0.1, 0.05)]


def qadd_vs_qlinearadd(lib: str, scales: tuple[float, float, float], relu: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """a, b, our QAdd (checked exactly against NumPy in every mode) and ORT's QLinearAdd."""
    rng = np.random.default_rng(seed)
    attrs = {"a_scale": scales[0], "b_scale": scales[1], "c_scale": scales[2], "relu": relu}
    a, b = i8(rng, 4, 31, 29, 16), i8(rng, 4, 31, 29, 16)
    expected = ref.qadd(a, b, attrs)
    model = qadd_model(attrs)
    for mode in MODES:
        c = systolic_session(lib, model, mode).run(None, {"a": a, "b": b})[0]
        np.testing.assert_array_equal(c, expected, err_msg=f"mode {mode} scales {scales}")
    return a, b, expected, ort_qlinearadd(attrs, a, b)


def lsb_diff(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x.astype(np.int16) - y.astype(np.int16))


@pytest.mark.parametrize("relu", [0, 1])
@pytest.mark.parametrize("scales", QADD_SCALES_AT_MOST_1, ids=str)
def test_qadd_within_one_lsb_of_qlinearadd_when_ratios_at_most_1(lib: str, scales: tuple, relu: int) -> None:
    _, _, ours, theirs = qadd_vs_qlinearadd(lib, scales, relu, seed=int(scales[0] * 1000) + relu)
    diff = lsb_diff(ours, theirs)
    print(f"QAdd vs QLinearAdd {scales} relu={relu}: max {diff.max()} LSB, "
          f"{100 * np.count_nonzero(diff) / diff.size:.1f}% of elements differ")
    assert diff.max() <= 1, "Gemmini's double rounding moves a result by at most 1 LSB"
    if scales != (0.1, 0.1, 0.1):  # ratios of exactly 1 round nothing
        assert np.count_nonzero(diff) > 0, "the double rounding should show on random data"


@pytest.mark.parametrize("scales", QADD_SCALES_ABOVE_1, ids=str)
def test_qadd_saturates_inputs_scaled_above_int8(lib: str, scales: tuple) -> None:
    """With a ratio > 1 an input beyond +-127/ratio saturates before the sum (Gemmini's mvin), so QAdd can differ
    from QLinearAdd by far more than 1 LSB; without that intermediate saturation the gap is back to <= 1 LSB."""
    a, b, ours, theirs = qadd_vs_qlinearadd(lib, scales, 0, seed=int(scales[1] * 1000))
    diff = lsb_diff(ours, theirs)
    print(f"QAdd vs QLinearAdd {scales}: max {diff.max()} LSB, {100 * np.count_nonzero(diff) / diff.size:.1f}% "
          f"differ, {100 * np.count_nonzero(diff > 1) / diff.size:.1f}% by more than 1 LSB")
    assert diff.max() > 1
    ra, rb = ref.ratio(scales[0], scales[2]), ref.ratio(scales[1], scales[2])
    unsaturated = np.rint(a.astype(np.float32) * ra) + np.rint(b.astype(np.float32) * rb)
    assert lsb_diff(np.clip(unsaturated, -128, 127).astype(np.int8), theirs).max() <= 1


# ---- fp32, settings, threads, counters, errors -----------------------------------------------------------------

def test_fp32_conv_and_matmul_close_to_numpy(lib: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 10, 10, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, 12)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    wm = rng.standard_normal((12, 7)).astype(np.float32)
    ca = {**CONV_DEFAULTS, "strides": [2, 1], "pads": [1, 1, 1, 1], "relu": 1}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], domain=DOMAIN, name="conv", **ca),
             helper.make_node("MatMul", ["t", "wm"], ["y"], domain=DOMAIN, name="mm", relu=0)]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, list(x.shape))}, {"y": TensorProto.FLOAT},
                       {"w": w, "b": b, "wm": wm})
    expected = ref.matmul_f32(ref.conv_f32(x, w, b, ca), wm, None, {})
    fp32_config = (paths.source_root() or Path()) / "ep" / "systolic" / "accelerator_fp32.toml"
    for mode in MODES:
        y = systolic_session(lib, model, mode, config=fp32_config.read_text()).run(None, {"x": x})[0]
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5, err_msg=f"mode {mode}")
    # Without an fp32 config the fp32 ops run on the built-in one (the registered config is int8).
    before = registration_ids(lib)
    y = systolic_session(lib, model, 2).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    stats = new_registration(lib, before)
    assert stats["config"]["elem"] == "int8" and stats["fallback_config"]["elem"] == "fp32"
    assert stats["ops"]["Conv"]["elem"] == "fp32" and stats["ops"]["Conv"]["calls"] == 1


def test_threads_dim_and_counters(lib: str) -> None:
    attrs, x, wt, bias = qconv_case(CONV_CASES[0], seed=3)
    expected = ref.qconv(x, wt, bias, attrs)
    inputs, inits = ["x", "w", "b"], {"w": wt, "b": bias}
    node = helper.make_node("QConv", inputs, ["y"], domain=DOMAIN, name="conv", **attrs)
    model = make_model([node], {"x": (TensorProto.INT8, list(x.shape))}, {"y": TensorProto.INT8}, inits)
    before = registration_ids(lib)
    session = systolic_session(lib, model, 2, threads="3", dim="8")
    for _ in range(2):
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], expected)
    stats = new_registration(lib, before)
    assert stats["mode"] == "ws" and stats["threads"] == 3 and stats["config"]["dim"] == 8
    conv = stats["ops"]["QConv"]
    macs = expected.size * wt.shape[0] * wt.shape[1] * wt.shape[2]
    assert conv["calls"] == 2 and conv["macs"] == 2 * macs
    assert conv["padded_macs"] >= conv["macs"] and conv["tiles"] > 0 and conv["cycles"] > 0
    assert stats["total"]["macs"] == conv["macs"] and stats["ops"]["QAdd"]["calls"] == 0


def test_concurrent_runs_share_one_registration(lib: str) -> None:
    """ORT may run one session from several threads: kernels are immutable, counters and the pool are shared."""
    from concurrent.futures import ThreadPoolExecutor

    attrs, x, wt, bias = qconv_case(CONV_CASES[2], seed=9)
    expected = ref.qconv(x, wt, bias, attrs)
    node = helper.make_node("QConv", ["x", "w"], ["y"], domain=DOMAIN, name="conv", **attrs)
    model = make_model([node], {"x": (TensorProto.INT8, list(x.shape))}, {"y": TensorProto.INT8}, {"w": wt})
    before = registration_ids(lib)
    session = systolic_session(lib, model, 1, threads="2")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: session.run(None, {"x": x})[0], range(16)))
    for y in results:
        np.testing.assert_array_equal(y, expected)
    assert new_registration(lib, before)["ops"]["QConv"]["calls"] == 16


@pytest.mark.parametrize(("entries", "message"), [
    ({"execution": "3"}, "systolic.execution must be 0 (CPU), 1 (OS) or 2 (WS), got '3'"),
    ({"config": "dim = 16\nbogus = 1\n"}, "systolic.config:2: unknown key 'bogus'"),
    ({"dim": "7"}, "systolic.dim = 7: "),
    ({"threads": "0"}, "systolic.threads must be an integer in 1..1024, got '0'"),
])
def test_bad_settings_fail_registration(lib: str, entries: dict, message: str) -> None:
    so = ort.SessionOptions()
    for key, value in entries.items():
        so.add_session_config_entry(f"systolic.{key}", value)
    with pytest.raises(Exception, match="rcnn_systolic_ops: " + message.replace("(", r"\(").replace(")", r"\)")):
        so.register_custom_ops_library(lib)


def test_shape_errors_name_the_node(lib: str) -> None:
    session = systolic_session(lib, qadd_model({"a_scale": 0.1, "b_scale": 0.1, "c_scale": 0.1, "relu": 0}), 1)
    with pytest.raises(Exception, match=r"rcnn.systolic QAdd 'add': A \[2,3\] and B \[3,2\] differ in shape"):
        session.run(None, {"a": np.zeros((2, 3), np.int8), "b": np.zeros((3, 2), np.int8)})


# ---- riscv64 under qemu vs the host library --------------------------------------------------------------------

@pytest.fixture(scope="module")
def riscv64_lib() -> Path:
    build.ensure_riscv64_runner()  # configures the riscv64 tree if needed and builds ort_test
    subprocess.run(["cmake", "--build", str(paths.riscv64_build_dir()), "--target", "rcnn_systolic_ops"],
                   check=True, capture_output=True)
    return paths.riscv64_library()


def test_riscv64_under_qemu_matches_host_in_every_mode(lib: str, riscv64_lib: Path, tmp_path: Path) -> None:
    """A QConv (pool) -> QAdd -> QMatMul network: ort_test + riscv64 library under qemu == Python ORT + host lib."""
    rng = np.random.default_rng(77)
    conv = {**CONV_DEFAULTS, "x_scale": 0.02, "w_scale": 0.01, "y_scale": y_scale_for(0.02, 0.01, 9 * 16),
            "pads": [1, 0, 1, 2], "relu": 1, "pool": 1, "pool_kernel": [2, 2], "pool_strides": [2, 2]}
    dw = {**CONV_DEFAULTS, "x_scale": 0.05, "w_scale": 0.01, "y_scale": y_scale_for(0.05, 0.01, 9),
          "pads": [1, 1, 1, 1], "group": 32, "strides": [2, 2]}
    add = {"a_scale": 0.05, "b_scale": 0.07, "c_scale": 0.08, "relu": 0}
    mm = {"a_scale": 0.08, "b_scale": 0.01, "y_scale": y_scale_for(0.08, 0.01, 32), "relu": 0}
    nodes = [helper.make_node("QConv", ["x", "w1", "b1"], ["t1"], domain=DOMAIN, name="c1", **conv),
             helper.make_node("QConv", ["x", "w2"], ["t2"], domain=DOMAIN, name="c2", **dw),
             helper.make_node("QAdd", ["t1", "t2"], ["s"], domain=DOMAIN, name="add", **add),
             helper.make_node("QMatMul", ["s", "wm", "bm"], ["y"], domain=DOMAIN, name="mm", **mm)]
    inits = {"w1": i8(rng, 3, 3, 32, 32), "b1": rng.integers(-9000, 9000, 32).astype(np.int32),
             "w2": i8(rng, 3, 3, 1, 32), "wm": i8(rng, 32, 24), "bm": rng.integers(-9000, 9000, 24).astype(np.int32)}
    model = make_model(nodes, {"x": (TensorProto.INT8, [1, 20, 18, 32])},
                       {"y": TensorProto.INT8, "s": TensorProto.INT8}, inits)
    model_path = tmp_path / "net.onnx"
    model_path.write_bytes(model)
    x = i8(rng, 1, 20, 18, 32)
    x_path = tmp_path / "x.pb"
    save_tensor(x, x_path, "x")
    for mode in MODES:
        host = systolic_session(lib, model, mode).run(None, {"x": x})
        out = tmp_path / f"rv{mode}"
        out.mkdir()
        result = run(model_path, [x_path], out, RunConfig(execution=mode, custom_op_libs=[riscv64_lib], echo=False))
        assert result.report["systolic"]["mode"] == ("cpu", "os", "ws")[mode]
        assert result.report["systolic"]["ops"]["QConv"]["calls"] == 2
        for name, value in zip(("y", "s"), host, strict=True):
            np.testing.assert_array_equal(result.outputs[name], value, err_msg=f"{name}, mode {mode}")
        assert len(np.unique(host[0])) > 20
