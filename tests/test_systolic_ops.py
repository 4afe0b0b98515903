"""The Systolic EP's accelerator ops one at a time, on standard QOperator nodes, against independent references:

- ONNX Runtime's CPU EP on the same model: QLinearConv / QLinearMatMul (+ int8 Relu, MaxPool) compute
  sat8(rne(float32(acc) * float32((x_s * w_s) / y_s))) exactly as the accelerator does, so bit for bit, in every
  mode, over the conv geometries (strides, dilations, asymmetric pads, groups, depthwise, pools, a long K, ties);
- the NumPy reference of Gemmini's numerics (tests/gemmini_ref.py), which ORT's result is checked against as well;
- residual adds: the EP takes a com.microsoft QLinearAdd only while every (x - zero point) * (x_scale / c_scale)
  stays within int8, since Gemmini's scaled mvin saturates each input before the sum where QLinearAdd does not.
  The adds it takes equal Gemmini's resadd (gemmini_ref.qadd, and the CPU EP with the add written in standard ops)
  bit for bit and QLinearAdd within 1 LSB; the adds it leaves are named with that reason, and there the accelerator's
  add would be far off (shown on the reference);
- the counters and options of one session (threads, dim), and concurrent runs of one session;
- the riscv64 EP in Debian's ORT under qemu (ort_test --ep-lib) against the host EP, in every mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import gemmini_ref as ref
from resadd_reference import resadd_reference

MODES = (0, 1, 2)
MS = "com.microsoft"
NHWC, HWIO, NCHW = (0, 2, 3, 1), (2, 3, 1, 0), (0, 3, 1, 2)


# ---- helpers ---------------------------------------------------------------------------------------------------

def i8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


def y_scale_for(x_scale: float, w_scale: float, k: int) -> float:
    """An output scale that puts typical accumulators (std ~ 5500 sqrt(K) for uniform int8) around +-60."""
    return float(np.float32(x_scale * w_scale * 5500 * np.sqrt(k) / 60))


def save(path: Path, nodes: list[onnx.NodeProto], inputs: dict[str, list[int]], outputs: list[str],
         inits: dict[str, np.ndarray]) -> Path:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(k, TensorProto.INT8, shape) for k, shape in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.INT8, None) for k in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets, ir_version=8), str(path))
    return path


def qparams(prefix: str, scale: float) -> dict[str, np.ndarray]:
    return {f"{prefix}_s": np.float32(scale), f"{prefix}_z": np.int8(0)}


def cpu(model: Path | bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feeds)


def run_ep(systolic: Any, model: Path, feeds: dict[str, np.ndarray], mode: int,
           **options: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
    session = systolic.session(model, mode=mode, **options)
    return session.run(None, feeds), systolic.report(session)


def placed(report: dict[str, Any]) -> set[str]:
    return {n["name"] for n in report["nodes"] if n["placement"] == "accelerator"}


# ---- QLinearConv -----------------------------------------------------------------------------------------------

# (name, N, H, W, C, OC, kh, kw, attrs, bias); attrs: ONNX conv attributes plus relu, pool (kernel, strides, pads),
# scales (x, w, y).
CONV_CASES = [
    ("3x3_pad1_relu", 1, 9, 11, 8, 16, 3, 3, {"pads": [1, 1, 1, 1], "relu": 1}, True),
    ("stride2_asym_pads", 2, 10, 9, 5, 7, 3, 2, {"strides": [2, 3], "pads": [2, 0, 1, 1]}, True),
    ("dilation", 1, 12, 12, 6, 20, 3, 3, {"dilations": [2, 3], "pads": [2, 3, 2, 3]}, False),
    ("groups", 1, 8, 8, 12, 18, 3, 3, {"group": 3, "pads": [1, 1, 1, 1]}, True),
    ("depthwise", 1, 10, 10, 16, 16, 3, 3, {"group": 16, "pads": [1, 1, 1, 1], "relu": 1}, True),
    ("depthwise_x2", 1, 7, 9, 6, 12, 5, 3, {"group": 6, "strides": [2, 1], "pads": [2, 1, 2, 1]}, True),
    ("pool_relu", 1, 12, 12, 4, 24, 3, 3,
     {"pads": [1, 1, 1, 1], "relu": 1, "pool": ([3, 3], [2, 2], [1, 1, 1, 1])}, True),
    ("pool_no_relu_pads", 1, 9, 10, 8, 8, 1, 1, {"pool": ([2, 3], [2, 1], [1, 0, 0, 2])}, True),
    ("1x1_large_k", 1, 6, 6, 200, 40, 1, 1, {}, True),
    ("ties_pow2_multiplier", 1, 8, 8, 16, 16, 3, 3, {"pads": [1, 1, 1, 1], "scales": (0.5, 0.25, 32.0)}, True),
]


def conv_model(path: Path, case: tuple, seed: int) -> tuple[Path, dict[str, np.ndarray], dict[str, Any]]:
    """The case as QLinearConv [-> Relu] [-> MaxPool], with its input and the attributes gemmini_ref takes."""
    _, n, h, w, c, oc, kh, kw, extra, has_bias = case
    rng = np.random.default_rng(seed)
    extra = dict(extra)
    group = extra.get("group", 1)
    x_s, w_s, y_s = extra.pop("scales", (0.02, 0.01, y_scale_for(0.02, 0.01, kh * kw * c // group)))
    relu, pool = extra.pop("relu", 0), extra.pop("pool", None)
    x, wt = i8(rng, n, c, h, w), i8(rng, oc, c // group, kh, kw)
    inits = {**qparams("x", x_s), "w": wt, **qparams("w", w_s), **qparams("y", y_s)}
    inputs = ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"]
    if has_bias:
        inits["b"] = rng.integers(-20000, 20000, oc).astype(np.int32)
        inputs.append("b")
    nodes = [helper.make_node("QLinearConv", inputs, ["conv"], name="conv", **extra)]
    last = "conv"
    if relu:
        nodes.append(helper.make_node("Relu", [last], ["relu"], name="relu"))
        last = "relu"
    if pool:
        nodes.append(helper.make_node("MaxPool", [last], ["pool"], name="pool", kernel_shape=pool[0],
                                      strides=pool[1], pads=pool[2]))
        last = "pool"
    nodes[-1].output[0] = "y"
    attrs = {"strides": extra.get("strides", [1, 1]), "dilations": extra.get("dilations", [1, 1]),
             "pads": extra.get("pads", [0, 0, 0, 0]), "group": group, "relu": relu, "pool": 0,
             "x_scale": x_s, "w_scale": w_s, "y_scale": y_s, "bias": inits.get("b"), "w": wt}
    return save(path, nodes, {"x": list(x.shape)}, ["y"], inits), {"x": x}, attrs


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_qlinearconv_bit_exact_in_every_mode(systolic: Any, tmp_path: Path, case: tuple) -> None:
    model, feeds, attrs = conv_model(tmp_path / "conv.onnx", case, seed=len(case[0]))
    (want,) = cpu(model, feeds)
    assert len(np.unique(want)) > 5, "degenerate test data"
    if "pool" not in case[8]:  # ORT's conv itself against the NumPy reference (its pool pads with zeros)
        numpy_ref = ref.qconv(feeds["x"].transpose(NHWC), attrs["w"].transpose(HWIO), attrs["bias"], attrs)
        np.testing.assert_array_equal(want, numpy_ref.transpose(NCHW), err_msg="ORT QLinearConv vs NumPy reference")
    for mode in MODES:
        (got,), report = run_ep(systolic, model, feeds, mode)
        assert report["summary"]["accelerator_mac_fraction"] == 1.0
        assert report["summary"]["nodes_on_accelerator"] == report["summary"]["nodes"]
        np.testing.assert_array_equal(got, want, err_msg=f"mode {mode}")


# ---- QLinearMatMul ---------------------------------------------------------------------------------------------

MATMUL_CASES = [  # (name, A shape, N, relu, scales or None)
    ("2d", (37, 70), 29, 0, None),
    ("3d_relu", (2, 5, 33), 17, 1, None),
    ("4d", (2, 3, 4, 16), 48, 0, None),
    ("ties", (20, 64), 24, 0, (0.5, 0.25, 32.0)),
]


@pytest.mark.parametrize("case", MATMUL_CASES, ids=[c[0] for c in MATMUL_CASES])
def test_qlinearmatmul_bit_exact_in_every_mode(systolic: Any, tmp_path: Path, case: tuple) -> None:
    name, a_shape, n, relu, scales = case
    rng = np.random.default_rng(len(name) + 100)
    k = a_shape[-1]
    a, b = i8(rng, *a_shape), i8(rng, k, n)
    a_s, b_s, y_s = scales or (0.03, 0.02, y_scale_for(0.03, 0.02, k))
    nodes = [helper.make_node("QLinearMatMul", ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"],
                              ["mm" if relu else "y"], name="mm")]
    if relu:
        nodes.append(helper.make_node("Relu", ["mm"], ["y"], name="relu"))
    model = save(tmp_path / "mm.onnx", nodes, {"a": list(a_shape)}, ["y"],
                 {**qparams("a", a_s), "b": b, **qparams("b", b_s), **qparams("y", y_s)})
    (want,) = cpu(model, {"a": a})
    numpy_ref = ref.qmatmul(a, b, None, {"a_scale": a_s, "b_scale": b_s, "y_scale": y_s, "relu": relu})
    np.testing.assert_array_equal(want, numpy_ref, err_msg="ORT QLinearMatMul vs NumPy reference")
    assert len(np.unique(want)) > 5
    for mode in MODES:
        (got,), report = run_ep(systolic, model, {"a": a}, mode)
        assert report["summary"]["accelerator_mac_fraction"] == 1.0
        np.testing.assert_array_equal(got, want, err_msg=f"mode {mode}")


# ---- QLinearAdd ------------------------------------------------------------------------------------------------

def add_model(path: Path, scales: tuple[float, float, float], zero_points: tuple[int, int, int] = (0, 0, 0),
              relu: bool = False) -> Path:
    inits = {"a_s": np.float32(scales[0]), "b_s": np.float32(scales[1]), "c_s": np.float32(scales[2]),
             "a_z": np.int8(zero_points[0]), "b_z": np.int8(zero_points[1]), "c_z": np.int8(zero_points[2])}
    nodes = [helper.make_node("QLinearAdd", ["a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z"],
                              ["sum" if relu else "c"], name="add", domain=MS)]
    if relu:
        nodes.append(helper.make_node("Relu", ["sum"], ["c"], name="relu"))
    shape = [4, 16, 31, 29]
    return save(path, nodes, {"a": shape, "b": shape}, ["c"], inits)


def lsb_diff(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x.astype(np.int16) - y.astype(np.int16))


# Ratios a_scale/c_scale and b_scale/c_scale with no int8 input scaled out of int8 (zero points 0): the EP takes the
# add. <= 1, and 1.000001 (127 * r still rounds to 127).
ADD_SCALES_TAKEN = [(0.04, 0.05, 0.06), (0.1, 0.1, 0.1), (0.013, 0.029, 0.031), (0.5, 0.25, 0.75),
                    (0.1000001, 0.05, 0.1)]
# A ratio where 127 * r rounds past 127: an input beyond +-127/ratio would saturate before the sum, so the EP leaves
# the add to the CPU EP.
ADD_SCALES_DECLINED = [(0.02, 0.07, 0.05), (0.05, 0.02, 0.04), (0.1, 0.1, 0.05)]


def shortest(v: np.float32) -> str:
    """The EP's number format: the shortest %g text that reads back as the same float32."""
    return next(t for p in range(1, 10) if np.float32(t := f"{float(v):.{p}g}") == v)


@pytest.mark.parametrize("relu", [False, True], ids=["plain", "relu"])
@pytest.mark.parametrize("scales", ADD_SCALES_TAKEN, ids=str)
def test_taken_add_is_the_accelerators_resadd_and_within_one_lsb(systolic: Any, tmp_path: Path,
                                                                  scales: tuple, relu: bool) -> None:
    model = add_model(tmp_path / "add.onnx", scales, relu=relu)
    rng = np.random.default_rng(int(scales[0] * 1000) + relu)
    feeds = {"a": i8(rng, 4, 16, 31, 29), "b": i8(rng, 4, 16, 31, 29)}
    attrs = {"a_scale": scales[0], "b_scale": scales[1], "c_scale": scales[2], "relu": int(relu)}
    want = ref.qadd(feeds["a"].transpose(NHWC), feeds["b"].transpose(NHWC), attrs).transpose(NCHW)
    (resadd,) = cpu(resadd_reference(model, {"add"}), feeds)
    if relu:
        resadd = np.maximum(resadd, 0).astype(np.int8)
    np.testing.assert_array_equal(resadd, want, err_msg="resadd in standard ops vs NumPy reference")
    (qlinearadd,) = cpu(model, feeds)
    for mode in MODES:
        (got,), report = run_ep(systolic, model, feeds, mode)
        assert placed(report) == ({"add", "relu"} if relu else {"add"})
        np.testing.assert_array_equal(got, want, err_msg=f"mode {mode} scales {scales}")
    diff = lsb_diff(want, qlinearadd)
    assert diff.max() <= 1, "Gemmini's double rounding moves a result by at most 1 LSB"
    if scales != (0.1, 0.1, 0.1):  # ratios of exactly 1 round nothing
        assert np.count_nonzero(diff) > 0, "the double rounding should show on random data"


@pytest.mark.parametrize("scales", ADD_SCALES_DECLINED, ids=str)
def test_add_whose_scaled_input_can_leave_int8_stays_on_the_cpu(systolic: Any, tmp_path: Path,
                                                                 scales: tuple) -> None:
    """Declined with the reason; the session's result is ONNX Runtime's QLinearAdd. On the accelerator the add
    would differ from it by far more than 1 LSB (the NumPy reference of the resadd shows it)."""
    model = add_model(tmp_path / "add.onnx", scales)
    rng = np.random.default_rng(int(scales[1] * 1000))
    feeds = {"a": i8(rng, 4, 16, 31, 29), "b": i8(rng, 4, 16, 31, 29)}
    (qlinearadd,) = cpu(model, feeds)
    (got,), report = run_ep(systolic, model, feeds, 2)
    (node,) = report["nodes"]
    assert node["placement"] == "cpu"
    f32 = [np.float32(s) for s in scales]
    side, ratio = ("A", f32[0] / f32[2]) if f32[0] > f32[2] else ("B", f32[1] / f32[2])
    assert node["reason"].startswith(f"{side}: (x - zero point 0) * scale ratio {shortest(ratio)} leaves int8: "
                                     "the accelerator saturates the scaled input before the sum"), node["reason"]
    np.testing.assert_array_equal(got, qlinearadd)
    attrs = {"a_scale": scales[0], "b_scale": scales[1], "c_scale": scales[2], "relu": 0}
    resadd = ref.qadd(feeds["a"], feeds["b"], attrs)
    assert lsb_diff(resadd, qlinearadd).max() > 1


def test_add_whose_zero_point_stretches_the_input_stays_on_the_cpu(systolic: Any, tmp_path: Path) -> None:
    """Ratio 0.8 <= 1, but input A's zero point -100 makes x - zp reach 227: (x - zp) * 0.8 leaves int8."""
    model = add_model(tmp_path / "add.onnx", (0.04, 0.02, 0.05), zero_points=(-100, 0, 0))
    rng = np.random.default_rng(4)
    feeds = {"a": i8(rng, 4, 16, 31, 29), "b": i8(rng, 4, 16, 31, 29)}
    (got,), report = run_ep(systolic, model, feeds, 2)
    (node,) = report["nodes"]
    assert node["placement"] == "cpu"
    ratio = shortest(np.float32(0.04) / np.float32(0.05))
    assert ratio == "0.79999995"  # float32 0.04 / 0.05, printed so that it reads back
    assert node["reason"].startswith(f"A: (x - zero point -100) * scale ratio {ratio} leaves int8"), node["reason"]
    np.testing.assert_array_equal(got, cpu(model, feeds)[0])



@pytest.mark.parametrize(("zp", "placement"), [(0, "accelerator"), (-1, "cpu")])
def test_add_ratio_just_above_one(systolic: Any, tmp_path: Path, zp: int, placement: str) -> None:
    """Ratio 1.000001: with zero point 0 the extremes still round into int8 (taken); with -1, x - zp reaches 128 and
    128 * r rounds to 128 (declined). The reason prints the ratio so it reads back (a 6-digit one printed "1")."""
    model = add_model(tmp_path / "add.onnx", (0.1000001, 0.05, 0.1), zero_points=(zp, 0, 0))
    rng = np.random.default_rng(5)
    feeds = {"a": i8(rng, 4, 16, 31, 29), "b": i8(rng, 4, 16, 31, 29)}
    feeds["a"].flat[:2] = (-128, 127)
    (got,), report = run_ep(systolic, model, feeds, 2)
    (node,) = report["nodes"]
    assert node["placement"] == placement, node
    (want,) = cpu(model, feeds)
    if placement == "cpu":
        assert node["reason"].startswith(f"A: (x - zero point {zp}) * scale ratio 1.000001 leaves int8"), node
        np.testing.assert_array_equal(got, want)
    else:
        assert lsb_diff(got, want).max() <= 1

# ---- counters, options, threads --------------------------------------------------------------------------------

def test_threads_dim_and_counters(systolic: Any, tmp_path: Path) -> None:
    model, feeds, _ = conv_model(tmp_path / "conv.onnx", CONV_CASES[0], seed=3)
    (want,) = cpu(model, feeds)
    session = systolic.session(model, mode=2, threads=3, dim=8)
    for _ in range(2):
        np.testing.assert_array_equal(session.run(None, feeds)[0], want)
    report = systolic.report(session)
    assert report["mode"] == "ws" and report["threads"] == 3 and report["config"]["dim"] == 8
    assert report["runs"] == 2
    conv = report["ops"]["QConv"]
    macs = want.size * 3 * 3 * 8
    assert report["summary"]["macs_accelerator"] == macs
    assert conv["calls"] == 2 and conv["macs"] == 2 * macs
    assert conv["padded_macs"] >= conv["macs"] and conv["tiles"] > 0 and conv["cycles"] > 0
    assert report["total"]["macs"] == conv["macs"] and report["ops"]["QAdd"]["calls"] == 0


def test_concurrent_runs_of_one_session(systolic: Any, tmp_path: Path) -> None:
    """ORT may run one session from several threads: the compiled chains are immutable, counters and the pool
    are shared."""
    from concurrent.futures import ThreadPoolExecutor

    model, feeds, _ = conv_model(tmp_path / "conv.onnx", CONV_CASES[2], seed=9)
    (want,) = cpu(model, feeds)
    session = systolic.session(model, mode=1, threads=2)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: session.run(None, feeds)[0], range(16)))
    for y in results:
        np.testing.assert_array_equal(y, want)
    assert systolic.report(session)["ops"]["QConv"]["calls"] == 16


# ---- riscv64 under qemu vs the host EP -------------------------------------------------------------------------

def test_riscv64_under_qemu_matches_host_in_every_mode(systolic: Any, tmp_path: Path) -> None:
    """QLinearConv (Relu, MaxPool) and a depthwise QLinearConv -> QLinearAdd -> QLinearMatMul: ort_test with the
    riscv64 EP under qemu == the host EP in this process, every mode, the same placement."""
    from rcnn.runtime import runner
    from rcnn.runtime.tensors import save_tensor

    rng = np.random.default_rng(77)
    s1, s2 = y_scale_for(0.02, 0.01, 9 * 32), 0.07
    s3 = float(np.float32(max(s1, s2) * 1.2))  # both add ratios below 1: the add is placed
    inits = {**qparams("x", 0.02), "w1": i8(rng, 32, 32, 3, 3), **qparams("w1", 0.01), **qparams("t1", s1),
             "b1": rng.integers(-9000, 9000, 32).astype(np.int32), "w2": i8(rng, 32, 1, 3, 3),
             **qparams("w2", 0.01), **qparams("t2", s2), **qparams("s", s3), "wm": i8(rng, 5, 24),
             **qparams("wm", 0.01), **qparams("y", y_scale_for(s3, 0.01, 5))}
    nodes = [
        helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w1", "w1_s", "w1_z", "t1_s", "t1_z", "b1"], ["c1"],
                         name="c1", pads=[1, 0, 1, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("MaxPool", ["r1"], ["t1"], name="p1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w2", "w2_s", "w2_z", "t2_s", "t2_z"], ["t2"],
                         name="c2", pads=[1, 1, 1, 1], group=32, strides=[2, 2]),
        helper.make_node("QLinearAdd", ["t1", "t1_s", "t1_z", "t2", "t2_s", "t2_z", "s_s", "s_z"], ["s"],
                         name="add", domain=MS),
        helper.make_node("QLinearMatMul", ["s", "s_s", "s_z", "wm", "wm_s", "wm_z", "y_s", "y_z"], ["y"],
                         name="mm"),
    ]
    model = save(tmp_path / "net.onnx", nodes, {"x": [1, 32, 20, 10]}, ["y", "s"], inits)
    x = i8(rng, 1, 32, 20, 10)
    save_tensor(x, tmp_path / "x.pb", "x")
    library = runner.systolic_ep_library(False)
    for mode in MODES:
        host, report = run_ep(systolic, model, {"x": x}, mode)
        assert report["summary"]["nodes_on_accelerator"] == len(nodes)
        out = tmp_path / f"rv{mode}"
        out.mkdir()
        config = runner.RunConfig(native=False, execution=mode, ep_lib=library, echo=False, session_config={},
                                  timeout=600)
        result = runner.run(model, [tmp_path / "x.pb"], out, config)
        ran = result.report["systolic_ep"]
        assert ran["mode"] == ("cpu", "os", "ws")[mode] and ran["summary"] == report["summary"]
        assert ran["ops"]["QConv"]["calls"] == 2 and ran["ops"]["QAdd"]["calls"] == 1
        for name, value in zip(("y", "s"), host, strict=True):
            np.testing.assert_array_equal(result.outputs[name], value, err_msg=f"{name}, mode {mode}")
        assert len(np.unique(host[0])) > 20
