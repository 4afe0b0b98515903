"""rcnn.gate and ort_test's own model check refuse the same models, for the same reason, in the same words.

Each case is a small hostile or broken model; the Python gate's RefusedInput message must equal what ort_test
(host build) prints after `ort_test: error: `, with exit status 3 on both sides.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rcnn import paths
from rcnn.errors import RefusedInput
from rcnn.onnxgraph import gate


def _external(name: str, location: str, dims: list[int], **extra: str) -> onnx.TensorProto:
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    for k, v in extra.items():
        t.external_data.add(key=k, value=v)
    return t


def _model(inits: list[onnx.TensorProto], nodes: list[onnx.NodeProto] | None = None,
           functions: list[onnx.FunctionProto] | None = None) -> onnx.ModelProto:
    out = inits[0].name if inits else "c"
    nodes = nodes if nodes is not None else [helper.make_node("Identity", [out], ["y"], name="id")]
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("f", 1)],
                              functions=functions or [])
    model.ir_version = 8
    return model


def _constant_node(tensor: onnx.TensorProto) -> onnx.NodeProto:
    return helper.make_node("Constant", [], ["y"], name="c", value=tensor)


def _in_subgraph(tensor: onnx.TensorProto) -> onnx.ModelProto:
    branch = helper.make_graph([_constant_node(tensor)], "branch", [],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    cond = numpy_helper.from_array(np.array(True), "cond")
    node = helper.make_node("If", ["cond"], ["y"], name="if", then_branch=branch, else_branch=branch)
    return _model([cond], [node])


def _in_function(tensor: onnx.TensorProto) -> onnx.ModelProto:
    f = helper.make_function("f", "F", [], ["y"], [_constant_node(tensor)], [helper.make_opsetid("", 17)])
    return _model([], [helper.make_node("F", [], ["y"], domain="f", name="call")], [f])


Case = Callable[[Path], onnx.ModelProto]


def _secret(d: Path) -> Path:
    f = d.parent / "secret.bin"
    f.write_bytes(bytes(64))
    return f


def _symlink_out(d: Path) -> onnx.ModelProto:
    (d / "w.bin").symlink_to(_secret(d))
    return _model([_external("W", "w.bin", [4])])


def _file(d: Path, name: str, size: int) -> None:
    (d / name).write_bytes(bytes(size))


def _lying_raw(d: Path) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.zeros(5, np.float32), "W")
    w.dims[:] = [2, 3]
    return _model([w])


def _lying_typed(d: Path) -> onnx.ModelProto:
    return _model([TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 3], float_data=[1.0] * 5)])


def _location_twice(d: Path) -> onnx.ModelProto:
    _file(d, "w.bin", 16)
    w = _external("W", "w.bin", [4])
    w.external_data.add(key="location", value="w.bin")
    return _model([w])


CASES: dict[str, tuple[Case, str]] = {
    "absolute": (lambda d: _model([_external("W", "/etc/passwd", [4])]),
                 "external data of tensor 'W' has an absolute location '/etc/passwd'"),
    "dotdot": (lambda d: (_secret(d), _model([_external("W", "../secret.bin", [4])]))[1],
               "external data of tensor 'W' at '../secret.bin' leaves the model's folder"),
    "symlink": (_symlink_out, "external data of tensor 'W' at 'w.bin' resolves outside the model's folder"),
    "missing": (lambda d: _model([_external("W", "w.bin", [4])]),
                "external data file 'w.bin' of tensor 'W' not found"),
    "directory": (lambda d: ((d / "w.bin").mkdir(), _model([_external("W", "w.bin", [4])]))[1],
                  "external data file 'w.bin' of tensor 'W' is not a regular file"),
    "past_end": (lambda d: (_file(d, "w.bin", 16), _model([_external("W", "w.bin", [4], offset="8",
                                                                      length="16")]))[1],
                 "external data of tensor 'W' (offset 8, length 16) runs past the end of 'w.bin' (16 bytes)"),
    "length": (lambda d: (_file(d, "w.bin", 64), _model([_external("W", "w.bin", [4], length="20")]))[1],
               "tensor 'W' declares dims [4] (16 bytes of float32) but holds 20 bytes"),
    "bad_offset": (lambda d: (_file(d, "w.bin", 64), _model([_external("W", "w.bin", [4], offset="-4")]))[1],
                   "external data of tensor 'W' has offset '-4', not a non-negative decimal integer"),
    "memory_tag": (lambda d: _model([_external("W", "*/_ORT_MEM_ADDR_/*", [4], offset="4096")]),
                   "external data of tensor 'W' has location '*/_ORT_MEM_ADDR_/*', ONNX Runtime's tag for data "
                   "at a memory address"),
    "twice": (_location_twice, "external data of tensor 'W' gives 'location' twice"),
    "raw": (_lying_raw, "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 20 bytes"),
    "typed": (_lying_typed, "tensor 'W' declares dims [2,3] (6 values of float32) but holds 5 values"),
    "negative": (lambda d: _model([TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, -1])]),
                 "tensor 'W' declares a negative dimension -1 in dims [2,-1]"),
    "over_limit": (lambda d: _model([TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2**20, 2**20])]),
                   "tensor 'W' declares 4398046511104 bytes, over the limit of 2147483648 (RCNN_MAX_TENSOR_BYTES)"),
    "constant": (lambda d: _model([], [_constant_node(_external("W", "../secret.bin", [4]))]),
                 "external data of tensor 'W' at '../secret.bin' leaves the model's folder"),
    "subgraph": (lambda d: _in_subgraph(_external("W", "/etc/passwd", [4])),
                 "external data of tensor 'W' has an absolute location '/etc/passwd'"),
    "function": (lambda d: _in_function(_external("W", "/etc/passwd", [4])),
                 "external data of tensor 'W' has an absolute location '/etc/passwd'"),
}


def _write(tmp_path: Path, case: Case) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "model.onnx"
    path.write_bytes(case(folder).SerializeToString())
    return path


def _ort_test(model: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(paths.host_binary()), "-m", str(model)], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})


@pytest.mark.parametrize("name", list(CASES))
def test_python_and_ort_test_refuse_alike(tmp_path: Path, name: str) -> None:
    build, message = CASES[name]
    model = _write(tmp_path, build)
    with pytest.raises(RefusedInput) as refused:
        gate.load_model(model)
    assert str(refused.value) == message
    r = _ort_test(model)
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"ort_test: error: {message}"


def test_valid_external_data_passes_both(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    values = np.arange(4, dtype=np.float32)
    (folder / "sub" / "w.bin").write_bytes(bytes(8) + values.tobytes())
    model = _model([_external("W", "sub/w.bin", [4], offset="8", length="16")])
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    loaded = gate.load_model(folder / "model.onnx")
    assert np.array_equal(numpy_helper.to_array(loaded.graph.initializer[0]), values)
    r = _ort_test(folder / "model.onnx")
    assert r.returncode == 0, r.stderr


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gate.MAX_TENSOR_BYTES.value() == 2**31 and gate.MAX_IMAGE_PIXELS.value() == 100_000_000
    monkeypatch.setenv("RCNN_MAX_TENSOR_BYTES", "16")
    with pytest.raises(RefusedInput, match="tensor 'W' declares 24 bytes, over the limit of 16"):
        gate.check_tensor(numpy_helper.from_array(np.zeros(6, np.float32), "W"), None)
    monkeypatch.setenv("RCNN_MAX_TENSOR_BYTES", "lots")
    with pytest.raises(gate.RcnnError, match="RCNN_MAX_TENSOR_BYTES must be a positive integer"):
        gate.MAX_TENSOR_BYTES.value()


def test_limits_match_ort_test() -> None:
    """One pair of numbers on both sides: ort_test's --help states the defaults it uses."""
    r = subprocess.run([str(paths.host_binary()), "--help"], capture_output=True, text=True, timeout=60)
    for limit in gate.LIMITS:
        assert limit.env in r.stdout and str(limit.default) in r.stdout, limit
