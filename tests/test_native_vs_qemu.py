"""The product's promise at its simplest: the emulated riscv64 run gives the host's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from rcnn.runtime.runner import RunConfig, run, systolic_ep_library
from rcnn.runtime.tensors import load_tensor

from conftest import random_input


def _run_both(model: Path, x: Path, tmp_path: Path) -> tuple[dict, dict]:
    results = []
    for native in (True, False):
        out = tmp_path / ("native" if native else "rv64")
        out.mkdir()
        results.append(run(model, [x], out, RunConfig(native=native, echo=False)).outputs)
    return results[0], results[1]


def test_int8_outputs_bit_identical(models: dict[str, Path], tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 32, 32), seed=7)
    native, rv64 = _run_both(models["int8"], x, tmp_path)
    assert list(native) == list(rv64) == ["logits", "features"]
    assert native["features"].dtype == np.int8
    for name in native:
        assert native[name].dtype == rv64[name].dtype
        np.testing.assert_array_equal(native[name], rv64[name], err_msg=name)
    # Not a trivially constant tensor: the comparison above has something to catch.
    assert len(np.unique(native["features"])) > 10
    # And both equal the PyPI runtime in this process.
    ref = ort.InferenceSession(str(models["int8"])).run(None, {"x": load_tensor(x)[0]})
    np.testing.assert_array_equal(ref[1], rv64["features"])


def test_fp32_outputs_close(models: dict[str, Path], tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 16, 16), seed=8)
    native, rv64 = _run_both(models["fp32"], x, tmp_path)
    for name in native:
        np.testing.assert_allclose(rv64[name], native[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.abs(native["y"]).max() > 0.1


@pytest.mark.parametrize("threads", [2])
def test_threads_do_not_change_int8_results(models: dict[str, Path], tmp_path: Path, threads: int) -> None:
    """On the accelerator (the riscv64 Systolic EP in Debian's ORT, under qemu): the EP's pool threads split the
    work, the integers stay the same."""
    library = systolic_ep_library(native=False)
    x = random_input(tmp_path / "x.pb", (1, 3, 32, 32), seed=9)
    outs = []
    for t in (1, threads):
        d = tmp_path / f"t{t}"
        d.mkdir()
        result = run(models["int8"], [x], d, RunConfig(threads=t, ep_lib=library, session_config={}, echo=False))
        report = result.report["systolic_ep"]
        assert report["threads"] == t and report["summary"]["nodes_on_accelerator"] > 0
        assert report["total"]["calls"] > 0, "the accelerator did not run"
        outs.append(result.outputs)
    np.testing.assert_array_equal(outs[0]["features"], outs[1]["features"])
