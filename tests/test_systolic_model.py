"""The accelerator model (rcnn._systolic) against a NumPy reference of the Gemmini numerics, in every mode."""

from __future__ import annotations

import numpy as np
import pytest

import gemmini_ref as ref
from rcnn.accelerator import systolic

F32 = np.float32


def requantize(acc: np.ndarray, multiplier: float, relu: bool) -> np.ndarray:
    return ref.scale_sat(acc, F32(multiplier), relu)


def ref_conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, mult: float, strides, dilations, pads, groups,
             relu: bool, pool: tuple | None) -> np.ndarray:
    y = requantize(ref.conv_acc(x, w, bias, strides, dilations, pads, groups), mult, relu)
    return y if pool is None else ref.maxpool_zero_pad(y, *pool)


def i8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)


@pytest.mark.parametrize("seed", range(12))
def test_matmul_all_modes_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    i, j, k = (int(v) for v in rng.integers(1, 80, 3))
    a, b = i8(rng, i, k), i8(rng, k, j)
    bias = rng.integers(-5000, 5000, j).astype(np.int32) if seed % 3 else None
    mult = float(F32(10.0 ** rng.uniform(-5, -1)))  # from tiny to saturating
    relu = bool(seed % 2)
    acc = a.astype(np.int64) @ b.astype(np.int64) + (0 if bias is None else bias)
    want = requantize(acc, mult, relu)
    for mode in systolic.MODES:
        got, counters = systolic.matmul(a, b, bias, mult, relu, mode=mode)
        np.testing.assert_array_equal(got, want, err_msg=f"{mode} {i}x{j}x{k}")
        assert counters["macs"] == i * j * k


CONV_CASES = [
    # (N, H, W, C, OC, KH, KW, strides, dilations, pads, groups, relu, pool)
    (1, 9, 7, 3, 8, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 1, True, None),
    (2, 12, 10, 5, 7, 3, 2, (2, 1), (1, 2), (0, 2, 1, 0), 1, False, None),
    (1, 11, 11, 8, 8, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 8, True, None),  # depthwise
    (1, 10, 9, 4, 8, 3, 3, (2, 2), (1, 1), (1, 0, 1, 1), 4, False, None),  # depthwise, channel multiplier 2
    (1, 8, 8, 6, 9, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 3, True, None),  # grouped pointwise
    (1, 16, 16, 3, 16, 7, 7, (2, 2), (1, 1), (3, 3, 3, 3), 1, True, ((3, 3), (2, 2), (1, 1, 1, 1))),  # ResNet stem
    (1, 13, 9, 17, 33, 3, 3, (1, 1), (2, 2), (2, 2, 2, 2), 1, False, ((2, 2), (2, 2), (0, 0, 0, 0))),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_all_modes_match_reference(case: tuple) -> None:
    n, h, wd, c, oc, kh, kw, strides, dil, pads, groups, relu, pool = case
    rng = np.random.default_rng(sum(case[:7]))
    x, w = i8(rng, n, h, wd, c), i8(rng, kh, kw, c // groups, oc)
    bias = rng.integers(-3000, 3000, oc).astype(np.int32)
    mult = float(F32(0.002))
    want = ref_conv(x, w, bias, mult, strides, dil, pads, groups, relu, pool)
    assert len(np.unique(want)) > 5
    kwargs = {}
    if pool:
        kwargs = {"pool_kernel": pool[0], "pool_strides": pool[1], "pool_pads": pool[2]}
    for mode in systolic.MODES:
        got, counters = systolic.conv2d(x, w, bias, mult, strides, dil, pads, groups, relu, mode=mode, **kwargs)
        np.testing.assert_array_equal(got, want, err_msg=mode)
        assert counters["macs"] > 0


@pytest.mark.parametrize("n", [1, 15, 16, 1000, 4099])
def test_resadd_all_modes_match_reference(n: int) -> None:
    rng = np.random.default_rng(n)
    a, b = i8(rng, n), i8(rng, n)
    ra, rb = float(F32(0.7) / F32(0.45)), float(F32(0.3) / F32(0.45))

    def scaled(v: np.ndarray, r: float) -> np.ndarray:
        return np.clip(np.rint(v.astype(F32) * F32(r)), -128, 127).astype(np.int32)

    for relu in (False, True):
        want = np.clip(scaled(a, ra) + scaled(b, rb), 0 if relu else -128, 127).astype(np.int8)
        for mode in systolic.MODES:
            got, _ = systolic.resadd(a, b, ra, rb, relu, mode=mode)
            np.testing.assert_array_equal(got, want, err_msg=f"{mode} relu={relu}")


def test_threads_and_dim_do_not_change_results() -> None:
    rng = np.random.default_rng(5)
    a, b = i8(rng, 70, 300), i8(rng, 300, 45)
    base, _ = systolic.matmul(a, b, None, 0.001, mode="ws")
    for dim in (4, 8, 32):
        cfg = systolic.read_config(dim=dim)
        got, counters = systolic.matmul(a, b, None, 0.001, mode="ws", config=cfg, threads=2)
        np.testing.assert_array_equal(got, base)
        assert counters["padded_macs"] % dim**3 == 0


def test_os_and_ws_count_hardware_events_cpu_does_not() -> None:
    rng = np.random.default_rng(6)
    a, b = i8(rng, 64, 64), i8(rng, 64, 64)
    _, cpu = systolic.matmul(a, b, mode="cpu")
    _, ws = systolic.matmul(a, b, mode="ws")
    assert cpu["cycles"] == 0 and cpu["tiles"] == 0
    assert ws["compute_preloaded"] > 0 and ws["cycles"] > 0
    assert ws["padded_macs"] == ws["macs"] == 64**3  # multiples of DIM: nothing padded


def test_config_file_is_the_cpp_default_and_bad_config_is_an_error(tmp_path) -> None:
    import tomllib

    with open(systolic.config_path(), "rb") as f:
        assert tomllib.load(f) == systolic.read_config()
    bad = tmp_path / "bad.toml"
    bad.write_text("dim = 12\n")
    with pytest.raises(systolic.RcnnError, match="dim"):
        systolic.read_config(bad)
