"""The accelerator model's quantization forms (per-channel weight scales, input/output zero points, uint8 data through
the caller's 128 shift) against ONNX Runtime's QLinearConv / QLinearMatMul / com.microsoft.QLinearAdd, built with
onnx.helper and run on the venv's ORT 1.31.1 CPU EP, and against an exact NumPy int64 reference.

What is asserted:
- every mode (cpu, os, ws) of rcnn._systolic gives exactly the NumPy reference (int64 sums of (x - x_zp) * (w - w_zp),
  padding counted as x_zp, float32 multiplier (x_scale * w_scale[c]) / y_scale, round half to even, + y_zp, clamp);
- ORT gives that same exact result for S8S8 and U8U8, and for U8S8 wherever its AVX2 kernel cannot saturate;
- where ORT's U8S8 differs (MLAS on AVX2 without VNNI multiplies u8 x s8 with vpmaddubsw, which saturates the sum of
  each pair of adjacent products to int16), ORT equals a model of exactly that saturation (pairs of consecutive K in
  ORT's im2col order (kh, kw, c), K padded with zeros), and at least one pair of every differing element exceeds
  int16. The deviation is ORT's, not the accelerator's: the test pins both.
"""

from __future__ import annotations

import zlib

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn.accelerator import systolic

pytest.importorskip("rcnn._systolic")

TT = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8}
LEVELS = {"disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def _session(model, level: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = LEVELS[level]
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _model(node, x_name: str, x: np.ndarray, inits: list, y_dtype) -> object:
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(x_name, TT[x.dtype], list(x.shape))],
                              [helper.make_tensor_value_info("y", TT[np.dtype(y_dtype)], None)], inits)
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


# ---- the case: ONNX tensors as quantize_static writes them ----------------------------------------------------- --

class Q:
    """One quantized op: data in its ONNX dtype, scales float32, zero points in the data's dtype."""

    def __init__(self, rng: np.random.Generator, x_dtype, w_dtype, x_zp: int, w_zp: int, y_zp: int,
                 per_channel: bool, bias: bool, x_shape: tuple, w_shape: tuple, out_ch: int,
                 w_range: tuple[int, int] | None = None) -> None:
        xi, wi = np.iinfo(x_dtype), np.iinfo(w_dtype)
        self.x = rng.integers(xi.min, xi.max + 1, x_shape).astype(x_dtype)
        lo, hi = w_range if w_range else (wi.min, wi.max)
        self.w = rng.integers(lo, hi + 1, w_shape).astype(w_dtype)
        self.x_zp, self.w_zp, self.y_zp = x_zp, w_zp, y_zp
        self.x_scale = np.float32(0.0123)
        n = out_ch if per_channel else 1
        self.w_scale = rng.uniform(0.002, 0.02, n).astype(np.float32)
        self.per_channel = per_channel
        self.bias = rng.integers(-20000, 20000, out_ch).astype(np.int32) if bias else None
        self.y_dtype = x_dtype
        self.out_ch = out_ch

    def y_scale(self, k: int) -> np.float32:
        """An output scale that keeps most outputs inside the range for a depth-k dot product."""
        return np.float32(float(self.x_scale) * float(self.w_scale.mean()) * 128 * 64 * np.sqrt(k) / 40)

    def multipliers(self, y_scale: np.float32) -> np.ndarray:
        """float32 (x_scale * w_scale[c]) / y_scale per output channel, as the accelerator (and ORT) forms it."""
        ws = self.w_scale if self.per_channel else np.repeat(self.w_scale, self.out_ch)
        return np.array([systolic.make_multiplier(float(self.x_scale), float(s), float(y_scale)) for s in ws],
                        np.float32)

    def bounds(self) -> tuple[int, int]:
        i = np.iinfo(self.y_dtype)
        return int(i.min), int(i.max)

    def zp_tensors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w_zp = np.full(self.out_ch if self.per_channel else (), self.w_zp, self.w.dtype)
        return np.array(self.x_zp, self.x.dtype), w_zp, np.array(self.y_zp, self.y_dtype)


def requantize(acc: np.ndarray, mult: np.ndarray, y_zp: int, lo: int, hi: int) -> np.ndarray:
    """y = clamp(RNE(float32(acc) * mult) + y_zp, lo, hi) with float32 arithmetic (NumPy's float32 multiply)."""
    return np.clip(np.rint(acc.astype(np.float32) * mult) + y_zp, lo, hi).astype(np.int64)


# ---- how a caller feeds the accelerator model: shift uint8 by 128, weights to int8 ----------------------------------

def to_int8_domain(v: np.ndarray | int, dtype) -> np.ndarray | int:
    """uint8 -> int8 by subtracting 128 (exact: differences and clamps are preserved); int8 unchanged."""
    if np.dtype(dtype) == np.uint8:
        return (np.asarray(v).astype(np.int16) - 128).astype(np.int8) if isinstance(v, np.ndarray) else int(v) - 128
    return v


def weights_int8(w: np.ndarray, w_zp: int) -> np.ndarray:
    """The model takes int8 weights with zero point 0: int8 weights need w_zp = 0; uint8 weights are supported when
    every w - w_zp fits int8 (w_zp = 128: any value; w_zp = 0: values <= 127)."""
    centred = w.astype(np.int16) - w_zp
    if w.dtype == np.int8 and w_zp != 0:
        raise ValueError("int8 weights need zero point 0")
    if centred.min() < -128 or centred.max() > 127:
        raise ValueError("w - w_zp does not fit int8")
    return centred.astype(np.int8)


# ---- conv ---------------------------------------------------------------------------------------------------------

def im2col(x: np.ndarray, pad_value: int, kh: int, kw: int, pads, strides, dilations) -> np.ndarray:
    """[N, OH, OW, kh*kw*C] int64 in (kh, kw, c) order from NCHW x, padded with pad_value."""
    n, c, h, w = x.shape
    xp = np.full((n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), pad_value, np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    oh = (xp.shape[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (xp.shape[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.zeros((n, oh, ow, kh, kw, c), np.int64)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            cols[:, :, :, i, j, :] = xp[:, :, r0:r0 + strides[0] * oh:strides[0],
                                        c0:c0 + strides[1] * ow:strides[1]].transpose(0, 2, 3, 1)
    return cols.reshape(n, oh, ow, kh * kw * c)


def _group_operands(q: Q, pads, strides, dilations, group: int):
    """Per group: im2col of its input channels ([N, OH, OW, K], padding = x_zp) and its weights [K, M/group] - w_zp."""
    m, cg, kh, kw = q.w.shape
    mg = m // group
    for g in range(group):
        cols = im2col(q.x[:, g * cg:(g + 1) * cg], q.x_zp, kh, kw, pads, strides, dilations)
        yield cols, q.w[g * mg:(g + 1) * mg].astype(np.int64).transpose(2, 3, 1, 0).reshape(-1, mg) - q.w_zp


def _pair_sums(cols: np.ndarray, wk: np.ndarray) -> np.ndarray:
    """[N, OH, OW, ceil(K/2), M]: x[k]*w[k] + x[k+1]*w[k+1] for even k (K padded with a zero product)."""
    prod = cols[..., :, None] * wk
    if prod.shape[3] % 2:
        prod = np.concatenate([prod, np.zeros_like(prod[..., :1, :])], axis=3)
    return prod[..., 0::2, :] + prod[..., 1::2, :]


def conv_acc(q: Q, pads, strides, dilations, group: int, saturate_pairs: bool = False) -> np.ndarray:
    """int64 accumulators [N, OH, OW, M]: bias + sum (x - x_zp) * (w - w_zp), padding = x_zp. With saturate_pairs:
    MLAS's U8S8 AVX2 arithmetic instead (int8 weights, zero point 0): the raw u8 x s8 products summed pairwise over
    adjacent K (order (kh, kw, c)) and each pair saturated to int16, then the zero point's correction."""
    outs = []
    for cols, wk in _group_operands(q, pads, strides, dilations, group):
        if saturate_pairs:
            outs.append(np.clip(_pair_sums(cols, wk), -32768, 32767).sum(axis=3) - q.x_zp * wk.sum(axis=0))
        else:
            outs.append((cols - q.x_zp) @ wk)
    acc = np.concatenate(outs, axis=3)
    return acc + (q.bias if q.bias is not None else 0)


def pair_sums_exceed_int16(q: Q, pads, strides, dilations, group: int = 1) -> np.ndarray:
    """[N, OH, OW, M]: whether some pair of adjacent raw products x*w in K order leaves int16."""
    outs = []
    for cols, wk in _group_operands(q, pads, strides, dilations, group):
        pairs = _pair_sums(cols, wk)
        outs.append(((pairs > 32767) | (pairs < -32768)).any(axis=3))
    return np.concatenate(outs, axis=3)


def ort_qlinearconv(q: Q, y_scale, pads, strides, dilations, group: int, level: str) -> np.ndarray:
    x_zp, w_zp, y_zp = q.zp_tensors()
    inits = [numpy_helper.from_array(np.array(q.x_scale, np.float32), "xs"), numpy_helper.from_array(x_zp, "xzp"),
             numpy_helper.from_array(q.w, "w"),
             numpy_helper.from_array(q.w_scale if q.per_channel else np.array(q.w_scale[0]), "ws"),
             numpy_helper.from_array(w_zp, "wzp"), numpy_helper.from_array(np.array(y_scale, np.float32), "ys"),
             numpy_helper.from_array(y_zp, "yzp")]
    inputs = ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp"]
    if q.bias is not None:
        inits.append(numpy_helper.from_array(q.bias, "b"))
        inputs.append("b")
    node = helper.make_node("QLinearConv", inputs, ["y"], pads=list(pads), strides=list(strides),
                            dilations=list(dilations), group=group)
    return _session(_model(node, "x", q.x, inits, q.y_dtype), level).run(None, {"x": q.x})[0]


def systolic_conv(q: Q, y_scale, pads, strides, dilations, group: int, mode: str, relu: bool = False,
                  **pool) -> np.ndarray:
    """The QLinearConv through the accelerator model: NHWC/HWIO, int8 domain, per-channel multipliers."""
    mult = q.multipliers(y_scale)
    x = to_int8_domain(q.x, q.x.dtype).transpose(0, 2, 3, 1)
    w = weights_int8(q.w, q.w_zp).transpose(2, 3, 1, 0)
    y, _ = systolic.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), q.bias, strides=tuple(strides),
                           dilations=tuple(dilations), pads=tuple(pads), groups=group, relu=relu, mode=mode,
                           multipliers=mult if q.per_channel else None, multiplier=float(mult[0]),
                           x_zero_point=to_int8_domain(q.x_zp, q.x.dtype),
                           y_zero_point=to_int8_domain(q.y_zp, q.y_dtype), **pool)
    y = y.transpose(0, 3, 1, 2).astype(np.int64)
    return y + 128 if q.y_dtype == np.uint8 else y


# (name, x dtype, w dtype, x_zp, w_zp, y_zp, per-channel, w value range)
FORMS = [
    ("s8s8_per_channel", np.int8, np.int8, 0, 0, 0, True, None),                # (a) symmetric int8, per-channel
    ("s8s8_per_channel_zp", np.int8, np.int8, -17, 0, 9, True, None),           # (a) asymmetric int8 activations
    ("u8s8_per_channel", np.uint8, np.int8, 131, 0, 117, True, None),           # (b) U8S8 (quantize_static default
    ("u8s8_per_tensor", np.uint8, np.int8, 3, 0, 250, False, None),             #     for uint8 activations)
    ("u8s8_7bit", np.uint8, np.int8, 200, 0, 0, True, (-64, 63)),               # (b) reduce_range weights
    ("u8u8_zp128", np.uint8, np.uint8, 77, 128, 128, True, None),               # (c) uint8 weights, w_zp 128
    ("u8u8_zp0", np.uint8, np.uint8, 128, 0, 1, False, (0, 127)),               # (c) uint8 weights, w_zp 0, <= 127
]
# (name, x shape NCHW, out_ch, kernel, pads (t, l, b, r), strides, dilations, group)
CONV_SHAPES = [
    ("3x3s2_asym", (1, 16, 11, 10), 24, 3, (0, 1, 2, 1), (2, 2), (1, 1), 1),
    ("1x1", (2, 20, 6, 7), 36, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1),
    ("1x1_padded", (1, 8, 5, 5), 17, 1, (1, 0, 0, 1), (1, 1), (1, 1), 1),
    ("5x5_dil2", (1, 6, 13, 12), 10, 5, (2, 3, 1, 0), (1, 2), (2, 1), 1),
    ("grouped", (1, 12, 8, 9), 18, 3, (1, 1, 1, 1), (1, 1), (1, 1), 3),
    ("depthwise", (2, 16, 9, 8), 16, 3, (1, 1, 1, 1), (1, 1), (1, 1), 16),
]


def make_conv_case(form, shape, bias: bool, seed: int) -> tuple[Q, tuple, tuple, tuple, int, np.float32]:
    _, xdt, wdt, x_zp, w_zp, y_zp, per_channel, w_range = form
    _, x_shape, oc, k, pads, strides, dil, group = shape
    rng = np.random.default_rng(seed)
    q = Q(rng, xdt, wdt, x_zp, w_zp, y_zp, per_channel, bias, x_shape, (oc, x_shape[1] // group, k, k), oc, w_range)
    return q, pads, strides, dil, group, q.y_scale(k * k * x_shape[1] // group)


def conv_exact(q: Q, y_scale, pads, strides, dil, group) -> np.ndarray:
    lo, hi = q.bounds()
    return requantize(conv_acc(q, pads, strides, dil, group), q.multipliers(y_scale), q.y_zp, lo, hi).transpose(
        0, 3, 1, 2)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=[s[0] for s in CONV_SHAPES])
@pytest.mark.parametrize("form", FORMS, ids=[f[0] for f in FORMS])
def test_conv_matches_exact_reference_and_ort(form, shape, bias: bool) -> None:
    seed = zlib.crc32(f"{form[0]}/{shape[0]}".encode())
    q, pads, strides, dil, group, y_scale = make_conv_case(form, shape, bias, seed)
    exact = conv_exact(q, y_scale, pads, strides, dil, group)
    lo, hi = q.bounds()
    assert np.mean((exact > lo) & (exact < hi)) > 0.05, "the case should not be all saturated"
    for mode in systolic.MODES:
        got = systolic_conv(q, y_scale, pads, strides, dil, group, mode)
        assert np.array_equal(got, exact), f"{mode}: {np.count_nonzero(got != exact)} elements differ"
    for level in LEVELS:
        y_ort = ort_qlinearconv(q, y_scale, pads, strides, dil, group, level).astype(np.int64)
        if np.array_equal(y_ort, exact):
            continue
        # Only ORT's U8S8 kernel may deviate, and then exactly as the int16 pair saturation predicts.
        assert q.x.dtype == np.uint8 and q.w.dtype == np.int8, f"ORT {level} deviates unexpectedly"
        sat = requantize(conv_acc(q, pads, strides, dil, group, saturate_pairs=True), q.multipliers(y_scale),
                         q.y_zp, lo, hi).transpose(0, 3, 1, 2)
        assert np.array_equal(y_ort, sat), f"ORT {level} differs from the exact and the int16-saturating model"
        exceeds = pair_sums_exceed_int16(q, pads, strides, dil, group).transpose(0, 3, 1, 2)
        assert exceeds[y_ort != exact].all(), "an element differs without any pair beyond int16"


def test_u8s8_ort_deviation_is_the_int16_pair_saturation() -> None:
    """The evidence, made certain: full-range x (many 255) against int8 weights of one sign make pairs of products
    beyond int16 (2 * 255 * 127 = 64770); the saturating model then differs from the exact result, ORT's U8S8
    equals one of the two (which one depends on the CPU), the accelerator is exact in every mode, while 7-bit
    weights (2 * 255 * 64 < 32768, ORT's reduce_range advice) cannot saturate and ORT is exact with them."""
    form = ("u8s8", np.uint8, np.int8, 5, 0, 128, True, None)
    q, pads, strides, dil, group, y_scale = make_conv_case(form, CONV_SHAPES[0], True, seed=3)
    q.x[:, :, :6] = 255
    q.w[: q.out_ch // 2] = np.abs(q.w[: q.out_ch // 2].astype(np.int16)).clip(0, 127).astype(np.int8)
    q.w_scale[:] = q.w_scale[0]
    y_scale = np.float32(y_scale * 4)
    exact = conv_exact(q, y_scale, pads, strides, dil, group)
    exceeds = pair_sums_exceed_int16(q, pads, strides, dil).transpose(0, 3, 1, 2)
    assert exceeds.any()
    lo, hi = q.bounds()
    sat = requantize(conv_acc(q, pads, strides, dil, group, saturate_pairs=True), q.multipliers(y_scale), q.y_zp,
                     lo, hi).transpose(0, 3, 1, 2)
    assert (sat != exact).any(), "the case must make the saturating model differ, else it proves nothing"
    for level in LEVELS:
        y_ort = ort_qlinearconv(q, y_scale, pads, strides, dil, group, level).astype(np.int64)
        # Which of the two ORT computes depends on the kernel MLAS dispatches to on this CPU (vpmaddubsw saturates
        # int16 pair sums, a VNNI dot product does not: seen both on x86 machines of this project's CI); it is one of
        # them on every element, never a third result.
        if np.array_equal(y_ort, exact):
            print(f"ORT {level}: exact on this CPU (its U8S8 kernel does not saturate)")
            continue
        assert np.array_equal(y_ort, sat), f"ORT {level}: neither the exact nor the int16-saturating result"
        assert exceeds[y_ort != exact].all()
        print(f"ORT {level}: the int16-saturating result on this CPU "
              f"({np.count_nonzero(y_ort != exact)} elements, up to {np.abs(y_ort - exact).max()} LSB)")
    for mode in systolic.MODES:
        assert np.array_equal(systolic_conv(q, y_scale, pads, strides, dil, group, mode), exact)
    # 7-bit weights: no pair can leave int16, ORT is exact.
    q.w = (q.w.astype(np.int16) // 2).astype(np.int8)
    exact7 = conv_exact(q, y_scale, pads, strides, dil, group)
    for level in LEVELS:
        assert np.array_equal(ort_qlinearconv(q, y_scale, pads, strides, dil, group, level), exact7)


def test_conv_relu_and_pool_at_the_zero_point() -> None:
    """ReLU clamps at y_zp (the real value 0); a zero-padded fused pool counts padding as y_zp; an ignore-padded
    pool is ONNX MaxPool on the quantized output. uint8 case, all modes."""
    q, pads, strides, dil, group, y_scale = make_conv_case(FORMS[2], CONV_SHAPES[0], True, seed=9)
    exact = conv_exact(q, y_scale, pads, strides, dil, group)
    relu = np.maximum(exact, q.y_zp)
    pool = {"pool_kernel": (3, 3), "pool_strides": (2, 2), "pool_pads": (1, 1, 1, 1)}

    def maxpool(y: np.ndarray, pad_value: float) -> np.ndarray:
        yp = np.pad(y.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=pad_value)
        oh, ow = (yp.shape[2] - 3) // 2 + 1, (yp.shape[3] - 3) // 2 + 1
        win = [yp[:, :, i:i + 2 * oh:2, j:j + 2 * ow:2] for i in range(3) for j in range(3)]
        return np.max(win, axis=0).astype(np.int64)

    for mode in systolic.MODES:
        assert np.array_equal(systolic_conv(q, y_scale, pads, strides, dil, group, mode, relu=True), relu)
        got = systolic_conv(q, y_scale, pads, strides, dil, group, mode, **pool)
        assert np.array_equal(got, maxpool(exact, q.y_zp))
        got = systolic_conv(q, y_scale, pads, strides, dil, group, mode, pool_ignore_padding=True, **pool)
        assert np.array_equal(got, maxpool(exact, -np.inf))
        got = systolic_conv(q, y_scale, pads, strides, dil, group, mode, relu=True, **pool)
        assert np.array_equal(got, maxpool(relu, -np.inf))


def test_uint8_weights_that_do_not_fit_int8_are_refused_by_the_caller() -> None:
    w = np.array([0, 200], np.uint8)
    with pytest.raises(ValueError, match="fit int8"):
        weights_int8(w, 0)
    with pytest.raises(ValueError, match="zero point 0"):
        weights_int8(np.array([1], np.int8), 3)
    assert weights_int8(w, 128).tolist() == [-128, 72]


# ---- matmul -------------------------------------------------------------------------------------------------------

def ort_qlinearmatmul(q: Q, y_scale, level: str) -> np.ndarray:
    x_zp, w_zp, y_zp = q.zp_tensors()
    inits = [numpy_helper.from_array(np.array(q.x_scale, np.float32), "as"), numpy_helper.from_array(x_zp, "azp"),
             numpy_helper.from_array(q.w, "b"),
             numpy_helper.from_array(q.w_scale if q.per_channel else np.array(q.w_scale[0]), "bs"),
             numpy_helper.from_array(w_zp, "bzp"), numpy_helper.from_array(np.array(y_scale, np.float32), "ys"),
             numpy_helper.from_array(y_zp, "yzp")]
    node = helper.make_node("QLinearMatMul", ["a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"], ["y"])
    return _session(_model(node, "a", q.x, inits, q.y_dtype), level).run(None, {"a": q.x})[0]


@pytest.mark.parametrize("form", FORMS, ids=[f[0] for f in FORMS])
@pytest.mark.parametrize("dims", [(16, 64, 24), (37, 45, 19), (1, 200, 70)], ids=lambda d: "x".join(map(str, d)))
def test_matmul_matches_exact_reference_and_ort(form, dims) -> None:
    _, xdt, wdt, x_zp, w_zp, y_zp, per_channel, w_range = form
    m, k, n = dims
    rng = np.random.default_rng(zlib.crc32(f"{form[0]}/{dims}".encode()))
    q = Q(rng, xdt, wdt, x_zp, w_zp, y_zp, per_channel, False, (m, k), (k, n), n, w_range)
    q.x[0] = np.iinfo(xdt).max  # a row of extremes (saturates U8S8 pairs on ORT's side)
    y_scale = q.y_scale(k)
    mult = q.multipliers(y_scale)
    lo, hi = q.bounds()
    w = q.w.astype(np.int64) - w_zp
    exact = requantize((q.x.astype(np.int64) - x_zp) @ w, mult, y_zp, lo, hi)
    for mode in systolic.MODES:
        y, _ = systolic.matmul(to_int8_domain(q.x, xdt), weights_int8(q.w, w_zp), mode=mode,
                               multipliers=mult if per_channel else None, multiplier=float(mult[0]),
                               x_zero_point=to_int8_domain(x_zp, xdt), y_zero_point=to_int8_domain(y_zp, xdt))
        y = y.astype(np.int64) + (128 if xdt == np.uint8 else 0)
        assert np.array_equal(y, exact), f"{mode}: {np.count_nonzero(y != exact)} elements differ"
    for level in LEVELS:
        y_ort = ort_qlinearmatmul(q, y_scale, level).astype(np.int64)
        if np.array_equal(y_ort, exact):
            continue
        assert xdt == np.uint8 and wdt == np.int8, f"ORT {level} deviates unexpectedly"
        prod = q.x.astype(np.int64)[:, :, None] * q.w.astype(np.int64)[None]
        if k % 2:
            prod = np.concatenate([prod, np.zeros_like(prod[:, :1])], axis=1)
        pairs = prod[:, 0::2] + prod[:, 1::2]
        sat = requantize(np.clip(pairs, -32768, 32767).sum(axis=1) - x_zp * w.sum(axis=0), mult, y_zp, lo, hi)
        assert np.array_equal(y_ort, sat), f"ORT {level}: neither exact nor the int16-saturating model"
        exceeds = ((pairs > 32767) | (pairs < -32768)).any(axis=1)
        assert exceeds[y_ort != exact].all()


# ---- residual add -------------------------------------------------------------------------------------------------

def test_resadd_zero_points_against_qlinearadd() -> None:
    """uint8 QLinearAdd with zero points: the accelerator rounds each input on its own (Gemmini's scaled mvin), ORT
    rounds the sum once, so they differ by at most 1 LSB wherever no input's scaled value alone leaves int8."""
    rng = np.random.default_rng(4)
    n = 20000
    a = rng.integers(0, 256, n).astype(np.uint8)
    b = rng.integers(0, 256, n).astype(np.uint8)
    a_s, b_s, c_s = np.float32(0.031), np.float32(0.017), np.float32(0.045)
    a_zp, b_zp, c_zp = 121, 140, 99
    inits = [numpy_helper.from_array(np.array(v, np.float32), name) for v, name in
             [(a_s, "as"), (b_s, "bs"), (c_s, "cs")]]
    inits += [numpy_helper.from_array(b, "b")]
    inits += [numpy_helper.from_array(np.array(v, np.uint8), name) for v, name in
              [(a_zp, "azp"), (b_zp, "bzp"), (c_zp, "czp")]]
    node = helper.make_node("QLinearAdd", ["a", "as", "azp", "b", "bs", "bzp", "cs", "czp"], ["y"],
                            domain="com.microsoft")
    y_ort = _session(_model(node, "a", a, inits, np.uint8), "disable_all").run(None, {"a": a})[0].astype(np.int64)
    ra, rb = np.float32(a_s / c_s), np.float32(b_s / c_s)  # float32 division, as make_ratio()
    ap = np.clip(np.rint((a.astype(np.int64) - a_zp).astype(np.float32) * ra), -128, 127)
    bp = np.clip(np.rint((b.astype(np.int64) - b_zp).astype(np.float32) * rb), -128, 127)
    want = np.clip(ap + bp + (c_zp - 128), -128, 127).astype(np.int64) + 128
    for mode in systolic.MODES:
        y, _ = systolic.resadd(to_int8_domain(a, np.uint8), to_int8_domain(b, np.uint8), float(ra), float(rb),
                               mode=mode, a_zero_point=a_zp - 128, b_zero_point=b_zp - 128,
                               c_zero_point=c_zp - 128)
        assert np.array_equal(y.astype(np.int64) + 128, want), mode
    diff = np.abs(want - y_ort)
    assert diff.max() <= 1 and 0 < np.count_nonzero(diff) < n // 4, (diff.max(), np.count_nonzero(diff))


# ---- the config switches ------------------------------------------------------------------------------------------

def test_config_keys_and_refusals() -> None:
    cfg = systolic.read_config()
    assert cfg["per_channel_scale"] is True and cfg["zero_points"] is True
    q, pads, strides, dil, group, y_scale = make_conv_case(FORMS[2], CONV_SHAPES[1], True, seed=1)
    with pytest.raises(ValueError, match="per_channel_scale"):
        systolic_conv(q, y_scale, pads, strides, dil, group, "ws", config={**cfg, "per_channel_scale": False})
    q.per_channel = False
    q.w_scale = q.w_scale[:1]
    with pytest.raises(ValueError, match="zero_points"):
        systolic_conv(q, y_scale, pads, strides, dil, group, "cpu", config={**cfg, "zero_points": False})
    with pytest.raises(ValueError, match="zero_points"):
        systolic.matmul(np.zeros((2, 2), np.int8), np.zeros((2, 2), np.int8), x_zero_point=1,
                        config={**cfg, "zero_points": False})
    assert "zero_points = false" in systolic.config_text({**cfg, "zero_points": False})
