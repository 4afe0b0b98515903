"""Partitioned models compute what the originals compute.

Two executors for the rcnn.systolic nodes:
- the standard-ONNX reference (rcnn.systolic_ref.lower_systolic) on stock ONNX Runtime: runs everywhere and checks
  the partitioner's rewrites (layouts, transposes, HWIO weights, attributes, fusions);
- the custom-op library (ep/ort, rcnn.paths.host_library()) in each execution mode 0/1/2: these tests FAIL, not
  skip, while the library is not built, so a missing library cannot pass unnoticed.

Expected: bit-identical to the unpartitioned model on ONNX Runtime's CPU EP for conv/matmul/relu/maxpool chains;
with a QAdd, at most 1 LSB on tensors downstream of it (Gemmini's double rounding), and bit-identical to the reference
everywhere. fp32 results agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from rcnn import paths
from rcnn.accelerator.partition import DOMAIN, partition_model
from rcnn.accelerator.systolic_ref import lower_systolic, session_options
from rcnn.models import testnets as nets

from conftest import riscv64_ort_version

MODES = (0, 1, 2)


# ---- models -------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    model: onnx.ModelProto
    lsb: dict[str, float] = field(default_factory=dict)  # outputs downstream of a QAdd -> 1 LSB in output units
    elem: str = "int8"
    input_range: float = 2.5  # inputs uniform in [-r, r]: beyond the first quantizer's range, so it saturates


def _chain() -> Case:
    q = nets.QNet(seed=1)
    xq = q.quantize(q.float_input("x", [2, 6, 12, 12]), 1 / 64)
    c1 = q.qconv(xq, 6, 8, y_scale=0.04)
    r1 = q.passthrough("Relu", c1)
    c2 = q.qconv(r1, 8, 8, y_scale=0.05, stride=2, pads=[1, 0, 2, 1])
    r2 = q.passthrough("Relu", c2)
    c3 = q.qconv(r2, 8, 8, k=3, y_scale=0.03, group=2, dilations=[2, 2], pads=2)
    p = q.passthrough("MaxPool", c3, kernel_shape=[2, 2], strides=[2, 2])  # no pads, no relu: fused
    flat = q.reshape(p, [2, -1])
    m = q.qmatmul(flat, 8 * 3 * 3, 5, y_scale=0.2)
    return Case(q.model([q.dequantize(m), r2, p]))


def _pools() -> Case:
    q = nets.QNet(seed=2)
    xq = q.quantize(q.float_input("x", [1, 3, 11, 11]), 1 / 64)
    a = q.passthrough("MaxPool", q.passthrough("Relu", q.qconv(xq, 3, 8)), kernel_shape=[3, 3], strides=[2, 2],
                      pads=[1, 1, 1, 1])  # padded pool after relu: fused (zero padding is harmless)
    b = q.passthrough("MaxPool", q.qconv(xq, 3, 8, y_scale=0.02, bias_offset=-100000), kernel_shape=[3, 3],
                      strides=[2, 2], pads=[1, 1, 1, 1])  # padded pool on negative values: declined
    c = q.passthrough("MaxPool", q.qconv(xq, 3, 4, k=1, pads=0), kernel_shape=[2, 3], strides=[1, 2],
                      pads=[0, 1, 1, 0])  # asymmetric padded pool, no relu: declined
    return Case(q.model([a, b, c]))


def _qdq_relu() -> Case:
    q = nets.QNet(seed=3)
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.qconv(xq, 4, 8, y_scale=0.05)
    r = q.quantize(q.node("Relu", [q.dequantize(c)], "relu_f"), 0.05)
    c2 = q.qconv(r, 8, 8, y_scale=0.05)
    r2 = q.node("Relu", [q.dequantize(c2)], "relu_f")  # DequantizeLinear moved after the fused Relu
    return Case(q.model([r2]))


def _matmul() -> Case:
    q = nets.QNet(seed=4)
    aq = q.quantize(q.float_input("a", [3, 5, 32]), 1 / 64)
    m = q.passthrough("Relu", q.qmatmul(aq, 32, 16, y_scale=0.1))
    return Case(q.model([q.dequantize(m), m]))


def _single_qadd(relu: bool) -> Case:
    q = nets.QNet(seed=5)
    aq = q.quantize(q.float_input("a", [1, 8, 6, 6]), 1 / 50)
    bq = q.quantize(q.float_input("b", [1, 8, 6, 6]), 1 / 30)
    s = q.qadd(aq, bq, c_scale=0.037)
    s = q.passthrough("Relu", s) if relu else s
    model = q.model([s])
    return Case(model, lsb={s: 1.0})


def _resnet() -> Case:
    model = nets.quantize_qoperator(nets.resnet_block(size=16, channels=8))
    for name in ("r1_quantized", "c2_quantized", "s_quantized"):  # upstream of the QAdd, and the QAdd's output
        model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.INT8, [1, 8, 16, 16]))
    y_scale = float(next(onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.name == "y_scale"))
    return Case(model, lsb={"s_quantized": 1.0, "y": y_scale}, input_range=1.0)


def _fp32() -> Case:
    from rcnn.models.testnets import resnet_block

    return Case(resnet_block(size=12, channels=8), elem="fp32", input_range=1.0)


CASES: dict[str, Callable[[], Case]] = {
    "chain": _chain, "pools": _pools, "qdq_relu": _qdq_relu, "matmul": _matmul,
    "qadd": lambda: _single_qadd(False), "qadd_relu": lambda: _single_qadd(True), "resnet": _resnet, "fp32": _fp32,
}


# ---- running ------------------------------------------------------------------------------------------------------


def feeds(model: onnx.ModelProto, r: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in model.graph.input:
        shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
        out[i.name] = rng.uniform(-r, r, shape).astype(np.float32)
    return out


def run(model: onnx.ModelProto, inputs: dict[str, np.ndarray], library: Path | None = None, mode: int = 0,
        reference: bool = False) -> dict[str, np.ndarray]:
    """Outputs on ONNX Runtime's CPU EP (default optimizations; none for a lowered reference model)."""
    so = session_options() if reference else ort.SessionOptions()
    so.log_severity_level = 3
    if library is not None:
        so.add_session_config_entry("systolic.execution", str(mode))
        so.register_custom_ops_library(str(library))
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def compare(case: Case, got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str) -> None:
    assert set(got) == set(want)
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: {name} {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        if case.elem == "fp32":
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"{what}: {name}")
        elif name in case.lsb:
            diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
            assert diff.max() <= case.lsb[name] * (1 + 1e-4), f"{what}: {name} off by {diff.max()} > 1 LSB"
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}: {name} not bit-identical")


def partitioned(case: Case) -> onnx.ModelProto:
    out, report = partition_model(case.model, case.elem)
    assert report.placed > 0 and any(n.domain == DOMAIN for n in out.graph.node)
    return out


# ---- the reference lowering (runs without the library) --------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_reference_matches_original(name: str) -> None:
    case = CASES[name]()
    lowered = lower_systolic(partitioned(case))
    onnx.checker.check_model(lowered, full_check=True)
    for seed in range(3):
        x = feeds(case.model, case.input_range, seed)
        compare(case, run(lowered, x, reference=True), run(case.model, x), f"reference, seed {seed}")


def gemmini_add(a: np.ndarray, b: np.ndarray, sa: float, sb: float, sc: float, relu: bool) -> np.ndarray:
    """Gemmini's resadd in numpy: each input scaled by float32(s_in/s_c), rounded half to even, saturated; summed."""
    def mvin(v: np.ndarray, ratio: np.float32) -> np.ndarray:
        return np.clip(np.rint(v.astype(np.float32) * ratio), -128, 127).astype(np.int32)

    s = mvin(a, np.float32(sa) / np.float32(sc)) + mvin(b, np.float32(sb) / np.float32(sc))
    return np.clip(s, 0 if relu else -128, 127).astype(np.int8)


@pytest.mark.parametrize("relu", [False, True])
def test_reference_qadd_is_gemmini_add(relu: bool) -> None:
    case = _single_qadd(relu)
    part = partitioned(case)
    (node,) = [n for n in part.graph.node if n.domain == DOMAIN]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["relu"] == int(relu)
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (1, 8, 6, 6)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 8, 6, 6)).astype(np.int8)
    a[0, 0, 0, :4] = [-128, 127, 0, 1]
    assert list(node.input) == [n.output[0] for n in part.graph.node if n.op_type == "QuantizeLinear"]  # NCHW
    g = helper.make_graph([node], "qadd", [helper.make_tensor_value_info(t, onnx.TensorProto.INT8, [1, 8, 6, 6])
                                           for t in node.input],
                          [helper.make_tensor_value_info(node.output[0], onnx.TensorProto.INT8, [1, 8, 6, 6])])
    single = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(DOMAIN, 1)])
    single.ir_version = 10
    want = gemmini_add(a, b, attrs["a_scale"], attrs["b_scale"], attrs["c_scale"], relu)
    got = run(lower_systolic(single), {node.input[0]: a, node.input[1]: b}, reference=True)[node.output[0]]
    np.testing.assert_array_equal(got, want)
    # and the accepted difference from ONNX Runtime's QLinearAdd is at most 1 LSB, and does happen
    x = feeds(case.model, 3.0, 1)
    ours, theirs = run(lower_systolic(part), x, reference=True), run(case.model, x)
    (out,) = ours
    diff = np.abs(ours[out].astype(np.int32) - theirs[out].astype(np.int32))
    assert diff.max() == 1


# ---- the custom-op library (fails while it is not built) --------------------------------------------------------


def library() -> Path:
    """The host custom-op library; the calling test fails (not skips) without it."""
    lib = paths.host_library()
    if lib is None:
        pytest.fail("the custom-op library librcnn_systolic_ops.so is not built: expected in <site-packages>/rcnn/lib "
                    "(pip install --no-build-isolation -e .) or build/host/ep/ort; partitioned models cannot run")
    return lib


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_library_matches_original_and_reference(name: str, mode: int) -> None:
    lib = library()
    case = CASES[name]()
    part = partitioned(case)
    lowered = lower_systolic(part)
    for seed in range(2):
        x = feeds(case.model, case.input_range, seed)
        got = run(part, x, lib, mode)
        compare(case, got, run(case.model, x), f"library mode {mode} vs original, seed {seed}")
        exact = Case(case.model, elem=case.elem)  # the reference has the accelerator's QAdd: no LSB allowance
        compare(exact, got, run(lowered, x, reference=True), f"library mode {mode} vs reference, seed {seed}")


@pytest.mark.parametrize("mode", MODES)
def test_library_single_qadd_exact(mode: int) -> None:
    lib = library()
    case = _single_qadd(True)
    part = partitioned(case)
    x = feeds(case.model, 3.0, 7)
    (got,) = run(part, x, lib, mode).values()
    (want,) = run(lower_systolic(part), x, reference=True).values()
    np.testing.assert_array_equal(got, want)


# ---- riscv64 under qemu (Debian's ORT, as locked): the partitioned model loads and runs there too --------------------


def test_qemu_riscv64_matches_reference(tmp_path: Path) -> None:
    from rcnn.runtime.runner import RunConfig, read_outputs
    from rcnn.runtime.runner import run as run_runner
    from rcnn.runtime.tensors import save_tensor

    rv_lib = paths.riscv64_library()
    if not rv_lib.is_file():
        pytest.fail(f"the riscv64 custom-op library is not built: {rv_lib} (cmake --build build/riscv64)")
    case = _resnet()
    part = partitioned(case)
    model_path = tmp_path / "part.onnx"
    onnx.save(part, str(model_path))
    x = feeds(case.model, case.input_range, 0)
    inputs = []
    for name, value in x.items():
        inputs.append(tmp_path / f"{name}.pb")
        save_tensor(value, inputs[-1], name)
    want = run(lower_systolic(part), x, reference=True)
    for mode in MODES:
        out = tmp_path / f"mode{mode}"
        out.mkdir()
        run_runner(model_path, inputs, out, RunConfig(execution=mode, custom_op_libs=[rv_lib], echo=False,
                                                      timeout=900))
        report, got = read_outputs(out)
        assert report["ort_version"] == riscv64_ort_version()  # Debian's riscv64 runtime, as locked
        compare(Case(case.model), got, want, f"riscv64 mode {mode} vs reference")
