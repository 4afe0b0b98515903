"""NumPy reference of the accelerator's ops (conv, matmul, resadd) with Gemmini's int8 numerics, written from the spec.

    acc = int32 bias + sum int8*int8                       (int32, wrapping)
    y   = sat8(rne(float32(acc) * float32((x_s * w_s) / y_s)))   float32 steps, round half to even
    relu after saturation; fused max-pool on the int8 results with padded positions counting as 0
    QAdd: c = clamp(sat8(rne(float32(a) * (a_s / c_s))) + sat8(rne(float32(b) * (b_s / c_s))), relu ? 0 : -128, 127)

Layouts: activations NHWC, conv weights HWIO, matmul B [K, N]. Used by tests/test_systolic_ops.py and by
tests/cpp/data/make_test_data.py (which writes the ctest's expected outputs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

F32 = np.float32


def multiplier(x_scale: float, w_scale: float, y_scale: float) -> np.float32:
    """float32 (x_scale * w_scale) / y_scale, each step rounded to float32."""
    return F32(F32(F32(x_scale) * F32(w_scale)) / F32(y_scale))


def ratio(in_scale: float, out_scale: float) -> np.float32:
    return F32(F32(in_scale) / F32(out_scale))


def wrap_int32(acc: np.ndarray) -> np.ndarray:
    return ((acc.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def scale_sat(acc: np.ndarray, mult: np.float32, relu: bool) -> np.ndarray:
    """int32 accumulators -> int8: float32 multiply, round half to even (np.rint), saturate, then ReLU."""
    y = wrap_int32(acc).astype(F32) * F32(mult)
    out = np.clip(np.rint(y), -128, 127).astype(np.int8)
    return np.maximum(out, 0).astype(np.int8) if relu else out


def conv_out_size(size: int, k: int, stride: int, dil: int, pad_begin: int, pad_end: int) -> int:
    return (size + pad_begin + pad_end - dil * (k - 1) - 1) // stride + 1


def conv_acc(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, strides: Sequence[int] = (1, 1),
             dilations: Sequence[int] = (1, 1), pads: Sequence[int] = (0, 0, 0, 0), group: int = 1) -> np.ndarray:
    """NHWC x, HWIO w ([kh, kw, C/group, OC]) -> the accumulators [N, OH, OW, OC] (int64, exact; any dtype)."""
    n, h, wd, c = x.shape
    kh, kw, cg, oc = w.shape
    assert c == cg * group and oc % group == 0, (x.shape, w.shape, group)
    is_float = np.issubdtype(x.dtype, np.floating)
    acc_type = np.float64 if is_float else np.int64
    xp = np.pad(x.astype(acc_type), ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)))
    oh = conv_out_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    ow = conv_out_size(wd, kw, strides[1], dilations[1], pads[1], pads[3])
    acc = np.zeros((n, oh, ow, oc), acc_type)
    if bias is not None:
        acc += bias.astype(acc_type)
    ocg = oc // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilations[0], j * dilations[1]
                patch = xp[:, r0:r0 + strides[0] * (oh - 1) + 1:strides[0],
                           c0:c0 + strides[1] * (ow - 1) + 1:strides[1], g * cg:(g + 1) * cg]
                acc[..., g * ocg:(g + 1) * ocg] += np.einsum(
                    "nhwc,co->nhwo", patch, w[i, j, :, g * ocg:(g + 1) * ocg].astype(acc_type))
    return acc


def maxpool_zero_pad(y: np.ndarray, kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int]) -> np.ndarray:
    """NHWC max-pool where padded positions count as value 0 (the reference's fused pool)."""
    yp = np.pad(y, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)), constant_values=0)
    oh = (yp.shape[1] - kernel[0]) // strides[0] + 1
    ow = (yp.shape[2] - kernel[1]) // strides[1] + 1
    out = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            window = yp[:, i:i + strides[0] * (oh - 1) + 1:strides[0], j:j + strides[1] * (ow - 1) + 1:strides[1]]
            out = window if out is None else np.maximum(out, window)
    assert out is not None
    return out


def _pool(y: np.ndarray, attrs: dict) -> np.ndarray:
    if not attrs.get("pool", 0):
        return y
    return maxpool_zero_pad(y, attrs["pool_kernel"], attrs.get("pool_strides", (1, 1)),
                            attrs.get("pool_pads", (0, 0, 0, 0)))


def qconv(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, attrs: dict) -> np.ndarray:
    """QConv with the node's attributes (x_scale, w_scale, y_scale, strides, dilations, pads, group, relu, pool*)."""
    acc = conv_acc(x, w, bias, attrs.get("strides", (1, 1)), attrs.get("dilations", (1, 1)),
                   attrs.get("pads", (0, 0, 0, 0)), attrs.get("group", 1))
    y = scale_sat(acc, multiplier(attrs["x_scale"], attrs["w_scale"], attrs["y_scale"]), bool(attrs.get("relu", 0)))
    return _pool(y, attrs)


def conv_f32(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, attrs: dict) -> np.ndarray:
    """fp32 Conv (exact in float64 for small integer-valued data, then float32)."""
    acc = conv_acc(x, w, bias, attrs.get("strides", (1, 1)), attrs.get("dilations", (1, 1)),
                   attrs.get("pads", (0, 0, 0, 0)), attrs.get("group", 1)).astype(F32)
    if attrs.get("relu", 0):
        acc = np.maximum(acc, F32(0))
    return _pool(acc, attrs)


def qmatmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None, attrs: dict) -> np.ndarray:
    acc = a.astype(np.int64) @ b.astype(np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return scale_sat(acc, multiplier(attrs["a_scale"], attrs["b_scale"], attrs["y_scale"]), bool(attrs.get("relu", 0)))


def matmul_f32(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None, attrs: dict) -> np.ndarray:
    acc = a.astype(np.float64) @ b.astype(np.float64)
    if bias is not None:
        acc = acc + bias.astype(np.float64)
    acc = acc.astype(F32)
    return np.maximum(acc, F32(0)) if attrs.get("relu", 0) else acc


def _mvin(v: np.ndarray, r: np.float32) -> np.ndarray:
    """Gemmini's scaled mvin of one resadd input: sat8(rne(float32(v) * ratio)), as int32."""
    return np.clip(np.rint(v.astype(F32) * r), -128, 127).astype(np.int32)


def qadd(a: np.ndarray, b: np.ndarray, attrs: dict) -> np.ndarray:
    s = _mvin(a, ratio(attrs["a_scale"], attrs["c_scale"])) + _mvin(b, ratio(attrs["b_scale"], attrs["c_scale"]))
    return np.clip(s, 0 if attrs.get("relu", 0) else -128, 127).astype(np.int8)
