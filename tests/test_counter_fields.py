"""The accelerator's counters are listed once (ep/systolic/include/systolic/counter_fields.def) and every place that
reports them follows that list: the Python dict of rcnn._systolic, the Systolic EP's report (read through its C ABI by
rcnn.systolic.report) and ort_test's outputs.json ("systolic_ep"), natively and under qemu."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn import _systolic
from rcnn.runtime.runner import RunConfig, run, systolic_ep_library
from rcnn.runtime.tensors import save_tensor

from conftest import ROOT

DEF_FILE = ROOT / "ep" / "systolic" / "include" / "systolic" / "counter_fields.def"
# The derived entries and what they are derived from (the formulas live in systolic::Counters).
DERIVED = {"mvin_bytes": ("mvin_sp_bytes", "mvin_acc_bytes"), "computes": ("compute_preloaded", "compute_accumulated")}
# A conv that takes several WS tiles on the default 16x16 array (3x3, pad 1, bias, ReLU): every counter is > 0.
CONV_ATTRS = {"pads": [1, 1, 1, 1], "x_scale": 0.02, "w_scale": 0.01, "y_scale": 4.0}


def def_file_entries() -> list[tuple[str, str]]:
    """(kind, name) of every entry of counter_fields.def, in order; kind is COUNTER or DERIVED."""
    text = DEF_FILE.read_text()
    return re.findall(r"^RCNN_SYSTOLIC_(COUNTER|DERIVED)\((\w+),", text, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def conv_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (1, 30, 33, 40)).astype(np.int8)
    w = rng.integers(-128, 128, (3, 3, 40, 24)).astype(np.int8)
    b = rng.integers(-20000, 20000, 24).astype(np.int32)
    return x, w, b


def qconv_model(path: Path, w: np.ndarray, b: np.ndarray, x_shape: tuple[int, ...]) -> Path:
    """The conv as QLinearConv -> Relu on NCHW data (x_shape and w are NHWC / HWIO, as rcnn._systolic takes them)."""
    n, h, w_, c = x_shape
    inits = {"xs": np.float32(CONV_ATTRS["x_scale"]), "z": np.int8(0), "ws": np.float32(CONV_ATTRS["w_scale"]),
             "w": np.ascontiguousarray(w.transpose(3, 2, 0, 1)), "ys": np.float32(CONV_ATTRS["y_scale"]), "b": b}
    nodes = [helper.make_node("QLinearConv", ["x", "xs", "z", "w", "ws", "z", "ys", "z", "b"], ["c"], name="conv",
                              pads=CONV_ATTRS["pads"]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT8, [n, c, h, w_])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def pybind_conv_counters(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> dict[str, int]:
    multiplier = _systolic.make_multiplier(CONV_ATTRS["x_scale"], CONV_ATTRS["w_scale"], CONV_ATTRS["y_scale"])
    _, counters = _systolic.conv2d(x, w, b, multiplier, pads=CONV_ATTRS["pads"], relu=True, mode="ws")
    return counters


def check_counters_object(counters: dict, where: str) -> None:
    keys = list(counters)
    expected = list(_systolic.COUNTER_JSON_KEYS)
    assert keys == expected, f"{where}: keys {keys}, expected {expected}"
    for name, parts in DERIVED.items():
        assert counters[name] == sum(counters[p] for p in parts), f"{where}: {name}"


def check_document(doc: dict, where: str) -> None:
    assert doc["ops"], where
    for op, counters in doc["ops"].items():
        check_counters_object(counters, f"{where} ops.{op}")
    check_counters_object(doc["total"], f"{where} total")


# ---- the list itself and the Python module ---------------------------------------------------------------------

def test_python_module_exposes_the_def_file() -> None:
    entries = def_file_entries()
    assert len(entries) >= 13
    assert list(_systolic.COUNTER_JSON_KEYS) == [name for _, name in entries]
    assert list(_systolic.COUNTER_FIELDS) == [name for kind, name in entries if kind == "COUNTER"]
    assert {name for kind, name in entries if kind == "DERIVED"} == set(DERIVED)


def test_pybind_dicts_use_the_list(conv_case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    a = np.ones((5, 7), np.int8)
    bm = np.ones((7, 3), np.int8)
    for mode in ("cpu", "os", "ws"):
        _, counters = _systolic.matmul(a, bm, mode=mode)
        assert list(counters) == list(_systolic.COUNTER_FIELDS), mode
        _, counters = _systolic.resadd(a, a, 0.5, 0.5, mode=mode)
        assert list(counters) == list(_systolic.COUNTER_FIELDS), mode
    counters = pybind_conv_counters(*conv_case)
    assert list(counters) == list(_systolic.COUNTER_FIELDS)
    assert counters["tiles"] > 1 and all(v > 0 for v in counters.values()), counters  # every field counts here


# ---- the EP's report (C ABI) -----------------------------------------------------------------------------------

def test_ep_report_uses_the_list(systolic: Any, tmp_path: Path,
                                 conv_case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, w, b = conv_case
    session = systolic.session(qconv_model(tmp_path / "conv.onnx", w, b, x.shape), mode=2)  # WS
    session.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
    doc = systolic.report(session)
    check_document(doc, "RcnnSystolicEpReport")
    # The values sit under the right names: the one WS conv equals the same conv through the Python module.
    conv = doc["ops"]["QConv"]
    assert {k: conv[k] for k in _systolic.COUNTER_FIELDS} == pybind_conv_counters(x, w, b)


# ---- ort_test's outputs.json -----------------------------------------------------------------------------------

@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_ort_test_outputs_json_uses_the_list(native: bool, tmp_path: Path,
                                             conv_case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, w, b = conv_case
    model = qconv_model(tmp_path / "qconv.onnx", w, b, x.shape)
    save_tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), tmp_path / "x.pb", "x")
    out = tmp_path / "out"
    out.mkdir()
    config = RunConfig(native=native, execution=2, echo=False, ep_lib=systolic_ep_library(native), session_config={})
    result = run(model, [tmp_path / "x.pb"], out, config)
    doc = result.report["systolic_ep"]
    check_document(doc, "outputs.json")
    conv = doc["ops"]["QConv"]
    assert {k: conv[k] for k in _systolic.COUNTER_FIELDS} == pybind_conv_counters(x, w, b)
    # ort_test parsed it and printed its totals from it.
    assert re.search(rf"Systolic EP: 1 accelerator op calls, {conv['macs']} MACs, estimated cycles {conv['cycles']} ",
                     result.stdout), result.stdout
