"""The accelerator's counters are listed once (ep/systolic/include/systolic/counter_fields.def) and every place that
reports them follows that list: the Python dict of rcnn._systolic, the custom-op library's statistics JSON (read
through its C ABI, as tests/test_systolic_ops.py does) and ort_test's outputs.json, natively and under qemu."""

from __future__ import annotations

import ctypes
import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn import _systolic, paths
from rcnn.runtime.runner import RunConfig, run, systolic_library
from rcnn.runtime.tensors import save_tensor

from conftest import ROOT

DEF_FILE = ROOT / "ep" / "systolic" / "include" / "systolic" / "counter_fields.def"
# The derived entries and what they are derived from (the formulas live in systolic::Counters).
DERIVED = {"mvin_bytes": ("mvin_sp_bytes", "mvin_acc_bytes"), "computes": ("compute_preloaded", "compute_accumulated")}
# A QConv that takes several WS tiles on the default 16x16 array (3x3, pad 1, bias, ReLU): every counter is > 0.
CONV_ATTRS = {"strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 1, 1], "group": 1, "relu": 1, "pool": 0,
              "pool_kernel": [1, 1], "pool_strides": [1, 1], "pool_pads": [0, 0, 0, 0],
              "x_scale": 0.02, "w_scale": 0.01, "y_scale": 4.0}


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


def qconv_model(w: np.ndarray, b: np.ndarray, x_shape: tuple[int, ...]) -> bytes:
    node = helper.make_node("QConv", ["x", "w", "b"], ["y"], domain="rcnn.systolic", name="conv", **CONV_ATTRS)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT8, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("rcnn.systolic", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8).SerializeToString()


def pybind_conv_counters(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> dict[str, int]:
    multiplier = _systolic.make_multiplier(CONV_ATTRS["x_scale"], CONV_ATTRS["w_scale"], CONV_ATTRS["y_scale"])
    _, counters = _systolic.conv2d(x, w, b, multiplier, pads=CONV_ATTRS["pads"], relu=True, mode="ws")
    return counters


def check_counters_object(counters: dict, where: str, with_elem: bool) -> None:
    keys = list(counters)
    expected = (["elem"] if with_elem else []) + list(_systolic.COUNTER_JSON_KEYS)
    assert keys == expected, f"{where}: keys {keys}, expected {expected}"
    for name, parts in DERIVED.items():
        assert counters[name] == sum(counters[p] for p in parts), f"{where}: {name}"


def check_document(doc: dict, where: str) -> None:
    assert doc["ops"], where
    for op, counters in doc["ops"].items():
        check_counters_object(counters, f"{where} ops.{op}", with_elem=True)
    check_counters_object(doc["total"], f"{where} total", with_elem=False)


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


# ---- the custom-op library's JSON (C ABI) ----------------------------------------------------------------------

def test_library_json_uses_the_list(conv_case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    lib = paths.host_library()
    assert lib is not None, "librcnn_systolic_ops.so is not built: pip install -e ."
    x, w, b = conv_case
    so = ort.SessionOptions()
    so.add_session_config_entry("systolic.execution", "2")  # WS
    so.register_custom_ops_library(str(lib))
    session = ort.InferenceSession(qconv_model(w, b, x.shape), so, providers=["CPUExecutionProvider"])
    session.run(None, {"x": x})
    handle = ctypes.CDLL(str(lib))  # the copy ORT loaded
    n = handle.RcnnSystolicStatsAll(None, ctypes.c_size_t(0))
    buf = ctypes.create_string_buffer(n + 64)
    handle.RcnnSystolicStatsAll(buf, ctypes.c_size_t(len(buf)))
    doc = json.loads(buf.value)["registrations"][-1]
    check_document(doc, "RcnnSystolicStatsAll")
    # The values sit under the right names: one WS QConv equals the same conv through the Python module.
    conv = doc["ops"]["QConv"]
    assert {k: conv[k] for k in _systolic.COUNTER_FIELDS} == pybind_conv_counters(x, w, b)


# ---- ort_test's outputs.json -----------------------------------------------------------------------------------

@pytest.mark.parametrize("native", [True, False], ids=["native", "qemu"])
def test_ort_test_outputs_json_uses_the_list(native: bool, tmp_path: Path,
                                             conv_case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, w, b = conv_case
    model = tmp_path / "qconv.onnx"
    model.write_bytes(qconv_model(w, b, x.shape))
    save_tensor(x, tmp_path / "x.pb", "x")
    out = tmp_path / "out"
    out.mkdir()
    config = RunConfig(native=native, execution=2, echo=False, custom_op_libs=[systolic_library(native)])
    result = run(model, [tmp_path / "x.pb"], out, config)
    doc = result.report["systolic"]
    check_document(doc, "outputs.json")
    conv = doc["ops"]["QConv"]
    assert {k: conv[k] for k in _systolic.COUNTER_FIELDS} == pybind_conv_counters(x, w, b)
    # ort_test parsed it (every listed counter is required) and printed its table from it.
    assert re.search(rf"QConv +1 +{conv['macs']} +{conv['tiles']} ", result.stdout), result.stdout
