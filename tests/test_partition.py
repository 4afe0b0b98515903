"""rcnn.partition: which nodes go to the accelerator and why, fusions, layouts and transposes, report, cache, CLI.

Structural checks only; numerics are in test_partition_numerics.py (reference lowering, runs anywhere) and
test_partition_e2e.py (the custom-op library).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from rcnn.accelerator.partition import DOMAIN, partition_file, partition_model
from rcnn.accelerator.placement import PlacementReport
from rcnn.errors import RcnnError
from rcnn.models import testnets as nets

from conftest import run_cli

# ---- helpers ------------------------------------------------------------------------------------------------


def systolic(model: onnx.ModelProto, op: str | None = None) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if n.domain == DOMAIN and (op is None or n.op_type == op)]


def ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def attr(node: onnx.NodeProto, name: str) -> object:
    return next(helper.get_attribute_value(a) for a in node.attribute if a.name == name)


def transposes(model: onnx.ModelProto) -> list[list[int]]:
    return [list(attr(n, "perm")) for n in model.graph.node if n.op_type == "Transpose"]


def check_valid(original: onnx.ModelProto, model: onnx.ModelProto) -> None:
    """The checker accepts it, nodes are in topological order, the interface is unchanged, versions are allowed."""
    onnx.checker.check_model(model)
    available = {i.name for i in model.graph.input} | {i.name for i in model.graph.initializer}
    for n in model.graph.node:
        missing = [i for i in n.input if i and i not in available]
        assert not missing, f"{n.name} reads {missing} before they are produced"
        available.update(n.output)
    assert not [o.name for o in model.graph.output if o.name not in available]
    assert [i.SerializeToString() for i in model.graph.input] == [i.SerializeToString() for i in original.graph.input]
    assert [o.SerializeToString() for o in model.graph.output] == [
        o.SerializeToString() for o in original.graph.output]
    assert model.ir_version <= 10
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets[""] == {o.domain: o.version for o in original.opset_import}[""] <= 22
    if systolic(model):
        assert opsets[DOMAIN] == 1
    names = [n.name for n in model.graph.node if n.name]
    assert len(names) == len(set(names)), "node names are not unique"


def chain_net(*, add: bool = True, size: int = 8, c: int = 4) -> tuple[onnx.ModelProto, dict[str, str]]:
    """x -> Q -> QConv -> Relu -> QConv -> QLinearAdd(residual) -> Relu -> MaxPool -> DQ -> y (int8 Relus)."""
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, c, size, size]), 1 / 64)
    c1 = q.qconv(xq, c, c, y_scale=0.05)
    r1 = q.passthrough("Relu", c1)
    c2 = q.qconv(r1, c, c, y_scale=0.06)
    t = q.qadd(c2, r1) if add else c2
    r2 = q.passthrough("Relu", t)
    p = q.passthrough("MaxPool", r2, kernel_shape=[2, 2], strides=[2, 2])
    y = q.dequantize(p)
    return q.model([y]), {"c1": c1, "r1": r1, "c2": c2, "add": t, "r2": r2, "pool": p, "y": y}


def node_named(report: PlacementReport, output: str, model: onnx.ModelProto) -> str:
    """The report name of the node of `model` that writes `output`."""
    return next(n.name for n in model.graph.node if output in n.output)


# ---- placement and fusion ---------------------------------------------------------------------------------------


def test_chain_one_transpose_in_one_out() -> None:
    model, t = chain_net()
    out, report = partition_model(model)
    check_valid(model, out)
    assert [n.op_type for n in systolic(out)] == ["QConv", "QConv", "QAdd"]
    conv1, conv2, add = systolic(out)
    assert attr(conv1, "relu") == 1 and attr(conv2, "relu") == 0 and attr(add, "relu") == 1
    assert attr(conv1, "pool") == 0 and attr(conv1, "pads") == [1, 1, 1, 1]
    assert conv2.input[0] == conv1.output[0] and add.input == [conv2.output[0], conv1.output[0]]  # all NHWC
    assert transposes(out) == [[0, 2, 3, 1], [0, 3, 1, 2]]
    assert report.transposes_to_nhwc == 1 and report.transposes_to_nchw == 1
    assert "Relu" not in ops(out)  # both fused
    assert ops(out).count("MaxPool") == 1  # after a QAdd: stays on the CPU, in NCHW
    assert report.node(node_named(report, t["r1"], model)).role == "fused relu"
    assert report.node(node_named(report, t["pool"], model)).placement == "cpu"
    assert report.systolic_nodes == {"QConv": 2, "QAdd": 1}
    assert any("1 LSB" in n for n in report.notes)


def test_scales_and_hwio_weights() -> None:
    model, _ = chain_net(add=False)
    out, _ = partition_model(model)
    conv = systolic(out, "QConv")[0]
    src = next(n for n in model.graph.node if n.op_type == "QLinearConv")
    inits = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    orig = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert conv.input[1] == f"{src.input[3]}_hwio"
    np.testing.assert_array_equal(inits[conv.input[1]], orig[src.input[3]].transpose(2, 3, 1, 0))
    assert src.input[3] not in inits, "the unused OIHW weight should be dropped"
    np.testing.assert_array_equal(inits[conv.input[2]], orig[src.input[8]])
    assert attr(conv, "x_scale") == pytest.approx(1 / 64, rel=1e-7)
    assert attr(conv, "w_scale") == pytest.approx(0.004, rel=1e-7)
    assert attr(conv, "y_scale") == pytest.approx(0.05, rel=1e-7)
    assert attr(conv, "strides") == [1, 1] and attr(conv, "dilations") == [1, 1] and attr(conv, "group") == 1


def conv_pool_net(pads: int, relu: bool, graph_output_conv: bool = False) -> onnx.ModelProto:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 3, 8, 8]), 1 / 64)
    c = q.qconv(xq, 3, 8)
    r = q.passthrough("Relu", c) if relu else c
    p = q.passthrough("MaxPool", r, kernel_shape=[3, 3], strides=[2, 2], pads=[pads] * 4)
    return q.model([p, c] if graph_output_conv else [p])


@pytest.mark.parametrize(("pads", "relu", "fused"), [(1, True, True), (0, False, True), (1, False, False)])
def test_pool_fused_only_when_equivalent(pads: int, relu: bool, fused: bool) -> None:
    model = conv_pool_net(pads, relu)
    out, report = partition_model(model)
    check_valid(model, out)
    conv = systolic(out, "QConv")[0]
    pool = next(n for n in report.nodes if n.op_type == "MaxPool")
    assert attr(conv, "relu") == int(relu)
    if fused:
        assert attr(conv, "pool") == 1 and "MaxPool" not in ops(out)
        assert attr(conv, "pool_kernel") == [3, 3] and attr(conv, "pool_strides") == [2, 2]
        assert attr(conv, "pool_pads") == [pads] * 4
        assert pool.placement == "systolic" and pool.role == "fused pool"
    else:
        assert attr(conv, "pool") == 0 and "MaxPool" in ops(out)
        assert pool.placement == "cpu" and "pads with 0" in (pool.reason or "")


def test_graph_output_blocks_fusion_and_keeps_layout() -> None:
    model = conv_pool_net(0, relu=True, graph_output_conv=True)
    out, report = partition_model(model)
    check_valid(model, out)
    conv = systolic(out, "QConv")[0]
    assert attr(conv, "relu") == 0 and attr(conv, "pool") == 0  # its output is a graph output: nothing fused
    conv_out = model.graph.output[1].name
    back = next(n for n in out.graph.node if conv_out in n.output)
    assert back.op_type == "Transpose" and list(attr(back, "perm")) == [0, 3, 1, 2]
    assert report.transposes_inserted == 2  # in, and back once for both the Relu and the graph output


def test_fan_out_blocks_relu_fusion() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.qconv(xq, 4, 4)
    r = q.passthrough("Relu", c)
    c2 = q.qconv(c, 4, 4)  # the conv output also feeds another conv: the Relu cannot be fused
    model = q.model([q.dequantize(r), q.dequantize(c2)])
    out, report = partition_model(model)
    check_valid(model, out)
    assert [attr(n, "relu") for n in systolic(out, "QConv")] == [0, 0]
    assert report.node(node_named(report, r, model)).placement == "cpu"
    assert ops(out).count("Relu") == 1
    # the conv output is NHWC for the second conv, and transposed back once for the CPU Relu
    assert report.transposes_to_nhwc == 1 and report.transposes_to_nchw == 2


def test_dq_relu_q_pattern_fused() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.qconv(xq, 4, 4, y_scale=0.05)
    f = q.node("Relu", [q.dequantize(c)], "relu_f")
    r = q.quantize(f, 0.05)  # same scale, zero point 0: the round trip is an int8 max(q, 0)
    c2 = q.qconv(r, 4, 4)
    model = q.model([q.dequantize(c2)])
    out, report = partition_model(model)
    check_valid(model, out)
    assert ops(out).count("DequantizeLinear") == 1 and "Relu" not in ops(out)
    conv1, conv2 = systolic(out, "QConv")
    assert attr(conv1, "relu") == 1 and conv2.input[0] == conv1.output[0]
    assert {n.role for n in report.nodes if n.op_type in ("DequantizeLinear", "QuantizeLinear")} >= {
        "fused quantize pair"}


def test_dq_relu_requantized_to_other_scale_moves_the_dq() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.qconv(xq, 4, 4, y_scale=0.05)
    dq = q.dequantize(c)
    f = q.node("Relu", [dq], "relu_f")
    r = q.quantize(f, 0.07)  # another scale: a real requantization, stays on the CPU
    model = q.model([q.dequantize(q.qconv(r, 4, 4))])
    out, report = partition_model(model)
    check_valid(model, out)
    conv1 = systolic(out, "QConv")[0]
    assert attr(conv1, "relu") == 1 and "Relu" not in ops(out)  # the Relu is fused, the DQ moved after it
    moved = next(n for n in out.graph.node if n.op_type == "DequantizeLinear" and f in n.output)
    assert moved.input[1:] == next(n for n in model.graph.node if dq in n.output).input[1:]
    assert "moved after" in (report.node(node_named(report, dq, model)).reason or "")
    assert ops(out).count("QuantizeLinear") == 2


def test_matmul_placed_and_non_constant_b_declined() -> None:
    q = nets.QNet()
    aq = q.quantize(q.float_input("a", [2, 3, 16]), 1 / 64)
    m1 = q.qmatmul(aq, 16, 8)
    r = q.passthrough("Relu", m1)
    sq = q.quantize(q.float_input("s", [16, 16]), 1 / 64)
    m2 = q.qmatmul(sq, 16, 16, constant_b=False)
    model = q.model([q.dequantize(r), q.dequantize(m2)])
    out, report = partition_model(model)
    check_valid(model, out)
    (mm,) = systolic(out, "QMatMul")
    assert attr(mm, "relu") == 1 and mm.input[0] == aq and report.transposes_inserted == 0
    declined = [n for n in report.nodes if n.op_type == "QLinearMatMul" and n.placement == "cpu"]
    assert len(declined) == 1 and "B is not a constant" in (declined[0].reason or "")


def test_uint8_quantized_model_all_declined() -> None:
    model = nets.quantize_qoperator(nets.resnet_block(), uint8=True, symmetric=False)
    out, report = partition_model(model)
    assert report.placed == 0 and not systolic(out)
    assert out.graph.SerializeToString() == model.graph.SerializeToString()  # written unchanged
    quantized = [n for n in report.nodes if n.op_type.startswith("QLinear")]
    assert quantized and all(n.placement == "cpu" and "uint8" in (n.reason or "") for n in quantized)
    assert any("nothing placed" in n for n in report.notes)


def test_uint8_helper_model_declined() -> None:
    q = nets.QNet(dtype=np.uint8)
    xq = q.quantize(q.float_input("x", [1, 3, 8, 8]), 1 / 64)
    model = q.model([q.dequantize(q.qconv(xq, 3, 4))])
    _, report = partition_model(model)
    (conv,) = [n for n in report.nodes if n.op_type == "QLinearConv"]
    assert conv.placement == "cpu" and conv.reason and conv.reason.startswith("uint8 x/w/y")


def test_nonzero_zero_point_declined() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 3, 8, 8]), 1 / 64)
    model = q.model([q.dequantize(q.qconv(xq, 3, 4, y_zp=5))])
    _, report = partition_model(model)
    (conv,) = [n for n in report.nodes if n.op_type == "QLinearConv"]
    assert conv.placement == "cpu" and "non-zero zero point of y (5)" in (conv.reason or "")


def test_per_channel_declined_helper_and_quantizer() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 3, 8, 8]), 1 / 64)
    model = q.model([q.dequantize(q.qconv(xq, 3, 4, w_scale=[0.01, 0.02, 0.03, 0.04]))])
    _, report = partition_model(model)
    assert "per-channel w_scale (4 values)" in (report.nodes[1].reason or "")
    quantized = nets.quantize_qoperator(nets.resnet_block(), per_channel=True)
    _, report = partition_model(quantized)
    convs = [n for n in report.nodes if n.op_type == "QLinearConv"]
    assert convs and all(n.placement == "cpu" and "per-channel" in (n.reason or "") for n in convs)


def test_broadcast_add_declined() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    bq = q.quantize(q.float_input("bias", [1, 4, 1, 1]), 1 / 64)
    model = q.model([q.dequantize(q.qadd(q.qconv(xq, 4, 4), bq))])
    out, report = partition_model(model)
    check_valid(model, out)
    (add,) = [n for n in report.nodes if n.op_type == "QLinearAdd"]
    assert add.placement == "cpu" and "broadcasting add ([1,4,8,8] and [1,4,1,1])" in (add.reason or "")
    assert not any("1 LSB" in n for n in report.notes)


def test_quantize_static_resnet_block() -> None:
    float_model = nets.resnet_block()
    model = nets.quantize_qoperator(float_model)
    out, report = partition_model(model)
    check_valid(model, out)
    assert report.systolic_nodes == {"QConv": 3, "QAdd": 1, "QMatMul": 1}
    assert [attr(n, "relu") for n in systolic(out, "QConv")] == [1, 1, 0]  # DQ -> Relu -> Q fused
    assert report.transposes_to_nhwc == 1 and report.transposes_to_nchw == 1
    assert report.mac_share == 1.0 and report.macs_total == 16 * 16 * 8 * (27 + 72 + 72) + 8 * 10
    convs = [n for n in report.nodes if n.op_type == "QLinearConv"]
    assert [n.macs for n in convs] == [16 * 16 * 8 * 27, 16 * 16 * 8 * 72, 16 * 16 * 8 * 72]
    relu2 = report.node("relu2")  # feeds the CPU MaxPool through a DequantizeLinear: left alone (ORT QDQ bug)
    assert relu2.placement == "cpu" and "QDQ propagation" in (relu2.reason or "")


def test_conv_declined_reasons() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 3, 8, 8]), 1 / 64)
    c = q.qconv(xq, 3, 4, auto_pad="SAME_UPPER", pads=0)
    model = q.model([q.dequantize(c)])
    model.graph.node[1].attribute.remove(next(a for a in model.graph.node[1].attribute if a.name == "pads"))
    out, _ = partition_model(model)  # SAME_UPPER with a known input size: explicit pads
    assert attr(systolic(out, "QConv")[0], "pads") == [1, 1, 1, 1]
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    _, report = partition_model(model)
    assert "auto_pad SAME_UPPER with unknown input size" in (report.nodes[1].reason or "")


def test_fp32_mode_conv_relu_matmul_gemm(tmp_path: Path) -> None:
    from rcnn.models import testnets

    model = onnx.load(str(testnets.fp32_convnet(tmp_path / "fp32.onnx")))
    out, report = partition_model(model, "fp32")
    check_valid(model, out)
    assert [n.op_type for n in systolic(out)] == ["Conv", "MatMul"]
    conv, mm = systolic(out)
    assert attr(conv, "relu") == 1 and "Relu" not in ops(out)  # the Relu's output is a graph output: still fused
    back = next(n for n in out.graph.node if "relu" in n.output)
    assert back.op_type == "Transpose" and back.input == [conv.output[0]]
    assert mm.input[0] == "flat" and "Add" in ops(out)  # MatMul + Add stays MatMul (bias Add on the CPU)
    with pytest.raises(RcnnError, match="no int8 QOperator nodes"):
        partition_model(model, "int8")

    g = helper.make_graph(
        [helper.make_node("Gemm", ["a", "w", "c"], ["g"], transB=1, name="gemm"),
         helper.make_node("Relu", ["g"], ["y"], name="relu")], "gemm",
        [helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [2, 6])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 5])],
        [numpy_helper.from_array(np.arange(30, dtype=np.float32).reshape(5, 6), "w"),
         numpy_helper.from_array(np.ones((1, 5), np.float32), "c")])
    gm = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    gm.ir_version = 10
    out, report = partition_model(gm, "fp32")
    check_valid(gm, out)
    (mm,) = systolic(out)
    inits = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    np.testing.assert_array_equal(inits[mm.input[1]], np.arange(30, dtype=np.float32).reshape(5, 6).T)
    assert inits[mm.input[2]].shape == (5,) and attr(mm, "relu") == 1
    assert report.node("relu").role == "fused relu" and report.node("gemm").macs == 2 * 6 * 5


def test_int8_model_in_fp32_mode_rejected_and_int8_ops_stay() -> None:
    model, _ = chain_net()
    with pytest.raises(RcnnError, match="no float Conv/MatMul/Gemm"):
        partition_model(model, "fp32")


# ---- report -------------------------------------------------------------------------------------------------------


def test_report_json_roundtrip_and_table() -> None:
    model = nets.quantize_qoperator(nets.resnet_block())
    _, report = partition_model(model)
    again = PlacementReport.from_json(report.to_json())
    assert again == report
    d = json.loads(report.to_json())
    assert d["summary"]["mac_share"] == 1.0 and d["summary"]["totals"]["QLinearConv"] == {"systolic": 3, "cpu": 0}
    assert len(d["nodes"]) == len(model.graph.node)
    table = report.format_table()
    assert "MACs on the accelerator" in table and "(100.0 %)" in table and "transposes inserted: 2" in table
    for n in model.graph.node:
        assert n.name in table


# ---- cache and files ------------------------------------------------------------------------------------------


@pytest.fixture
def resnet_file(tmp_path: Path) -> Path:
    path = tmp_path / "resnet_int8.onnx"
    onnx.save(nets.quantize_qoperator(nets.resnet_block(size=32, channels=16)), str(path))
    return path


def test_cache_hit_does_not_partition_again(resnet_file: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import rcnn.accelerator.partition

    cache = tmp_path / "cache"
    first = partition_file(resnet_file, tmp_path / "a.onnx", cache_directory=cache)

    def no_partitioning(*_: object) -> None:
        raise AssertionError("a cache hit must not partition again")

    monkeypatch.setattr(rcnn.accelerator.partition, "partition_model", no_partitioning)
    second = partition_file(resnet_file, tmp_path / "b.onnx", cache_directory=cache)
    assert not first.report.from_cache and second.report.from_cache
    assert second.report.cache_key == first.report.cache_key
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".onnx"]
    third = partition_file(resnet_file, cache_directory=cache, elem="int8")
    assert third.model_path is not None and third.model_path.parent == cache


def test_cache_evicts_least_recently_used_entries(resnet_file: Path, models: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    a = partition_file(resnet_file, cache_directory=cache)
    b = partition_file(models["int8"], cache_directory=cache)
    assert len(list(cache.glob("*.json"))) == 2
    partition_file(resnet_file, cache_directory=cache)  # a hit: a becomes the most recently used
    size_a = sum(p.stat().st_size for p in cache.glob(f"{a.report.cache_key}.*"))
    monkeypatch.setenv("RCNN_PARTITION_CACHE_MB", str(size_a / 2**20 + 0.01))
    partition_file(resnet_file, cache_directory=cache, elem="int8", use_cache=True)  # hit, no write, no eviction
    assert len(list(cache.glob("*.json"))) == 2
    c_model = tmp_path / "c.onnx"  # another model (different bytes, so another key)
    m = onnx.load(str(models["int8"]))
    m.doc_string = "another model"
    onnx.save(m, str(c_model))
    c = partition_file(c_model, cache_directory=cache)  # written: the cache is over its limit, b goes first
    keys = {p.stem for p in cache.glob("*.json")}
    assert c.report.cache_key in keys and b.report.cache_key not in keys
    assert not list(cache.glob(f"{b.report.cache_key}.*"))
    monkeypatch.setenv("RCNN_PARTITION_CACHE_MB", "lots")
    with pytest.raises(RcnnError, match="RCNN_PARTITION_CACHE_MB"):
        partition_file(tmp_path / "c.onnx", cache_directory=tmp_path / "other")


def test_cache_corrupt_entry_rewritten(resnet_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = partition_file(resnet_file, cache_directory=cache)
    assert first.model_path is not None
    good = first.model_path.read_bytes()
    first.model_path.write_bytes(good[: len(good) // 2])  # truncated model
    again = partition_file(resnet_file, cache_directory=cache)
    assert not again.report.from_cache and first.model_path.read_bytes() == good
    meta = next(cache.glob("*.json"))
    meta.write_text("{not json")
    again = partition_file(resnet_file, cache_directory=cache)
    assert not again.report.from_cache and json.loads(meta.read_text())["key"] == again.report.cache_key
    assert partition_file(resnet_file, cache_directory=cache).report.from_cache


def test_no_cache_writes_nothing(resnet_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    r = partition_file(resnet_file, use_cache=False, cache_directory=cache)
    assert r.model_path is None and not cache.exists() and r.report.placed > 0


def test_cache_key_depends_on_options(resnet_file: Path, tmp_path: Path) -> None:
    from rcnn.accelerator.partition import cache_key

    data = resnet_file.read_bytes()
    keys = [cache_key(data, "int8"), cache_key(data, "fp32"), cache_key(data + b" ", "fp32"),
            cache_key(data + b" ", "int8")]
    assert len(set(keys)) == len(keys), keys  # every pair differs (a != b != c never compares a with c)


# ---- CLI ------------------------------------------------------------------------------------------------------


def test_cli_help_lists_flags_and_defaults(tmp_path: Path) -> None:
    r = run_cli("rcnn.partition", "--help", cwd=tmp_path)
    assert r.returncode == 0
    for flag in ("MODEL", "-o", "--output", "--report", "--elem", "--no-cache", "int8", "fp32"):
        assert flag in r.stdout, flag
    assert "(default: int8)" in r.stdout


def test_cli_writes_model_and_report(resnet_file: Path, tmp_path: Path) -> None:
    env_cache = tmp_path / "xdg"
    out, rep = tmp_path / "out.onnx", tmp_path / "report.json"
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "rcnn.partition", str(resnet_file), "-o", str(out), "--report", str(rep)]
    env = {**os.environ, "XDG_CACHE_HOME": str(env_cache)}
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "MACs on the accelerator" in r.stdout and "(100.0 %)" in r.stdout
    assert systolic(onnx.load(str(out)))
    assert json.loads(rep.read_text())["summary"]["placed"] > 0
    assert list((env_cache / "rcnn" / "partition").glob("*.onnx"))
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "from cache" in r.stdout


def _bad(tmp: Path) -> dict[str, list[str | Path]]:
    corrupt = tmp / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 100)
    text = tmp / "text.onnx"
    text.write_text("hello, not a model\n")
    float_model = tmp / "float.onnx"
    onnx.save(nets.resnet_block(), str(float_model))
    int8_model = tmp / "int8.onnx"
    onnx.save(chain_net()[0], str(int8_model))
    return {"missing": [tmp / "nope.onnx"], "corrupt": [corrupt], "text": [text], "float in int8": [float_model],
            "unwritable output": [int8_model, "-o", text / "out.onnx"],
            "unwritable report": [int8_model, "--report", text / "r.json"]}


PARTITION_BAD_CAUSES = {  # the cause each case must name (not only the error prefix)
    "missing": "model not found: ",
    "corrupt": "corrupt.onnx: not an ONNX model",
    "text": "text.onnx: not an ONNX model",
    "float in int8": "no int8 QOperator nodes",
    "unwritable output": "cannot write ",
    "unwritable report": "cannot write ",
}


@pytest.mark.parametrize("case", ["missing", "corrupt", "text", "float in int8", "unwritable output",
                                  "unwritable report"])
def test_cli_bad_input_one_line_error(case: str, tmp_path: Path) -> None:
    r = run_cli("rcnn.partition", *_bad(tmp_path)[case], "--no-cache", cwd=tmp_path)
    assert r.returncode == (3 if case in ("corrupt", "text") else 1), r.stderr  # 3: a refused input
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rcnn.partition: error: "), r.stderr
    assert PARTITION_BAD_CAUSES[case] in lines[0], r.stderr


def test_cli_nothing_placeable_is_not_an_error(tmp_path: Path) -> None:
    model = nets.quantize_qoperator(nets.resnet_block(), uint8=True, symmetric=False)
    src, dst = tmp_path / "u8.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    r = run_cli("rcnn.partition", src, "-o", dst, "--no-cache", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "0 of" in r.stdout and onnx.load(str(dst)).graph.SerializeToString() == model.graph.SerializeToString()


# ---- graph corner cases -----------------------------------------------------------------------------------------


def test_unnamed_nodes_constant_node_scales_and_ir_lowered() -> None:
    model, _ = chain_net(add=False)
    for n in model.graph.node:
        n.name = ""
    # the first conv's y_scale comes from a Constant node instead of an initializer
    conv = next(n for n in model.graph.node if n.op_type == "QLinearConv")
    init = next(i for i in model.graph.initializer if i.name == conv.input[6])
    model.graph.node.insert(0, helper.make_node("Constant", [], ["y_scale_const"], value=init))
    conv.input[6] = "y_scale_const"
    model.ir_version = 11
    out, report = partition_model(model)
    model.ir_version = 10  # the only change to the interface-level checks below
    check_valid(model, out)
    assert out.ir_version == 10 and any("IR version lowered from 11" in n for n in report.notes)
    assert [n.name for n in report.nodes][:3] == ["Constant_0", "QuantizeLinear_1", "QLinearConv_2"]
    first = systolic(out, "QConv")[0]
    assert first.name == "QConv_2" and attr(first, "y_scale") == pytest.approx(0.05)
    assert report.node("QLinearConv_2").systolic_node == "QConv_2"


def test_subgraph_reference_gets_the_original_layout() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.qconv(xq, 4, 4)
    r = q.passthrough("Relu", c)
    branch = [helper.make_tensor_value_info("b_out", onnx.TensorProto.INT8, [1, 4, 8, 8])]
    then_g = helper.make_graph([helper.make_node("Identity", [c], ["b_out"])], "then", [], branch)
    else_g = helper.make_graph([helper.make_node("Identity", [r], ["b_out"])], "else", [], branch)
    cond = q.const("cond", np.array(True))
    q.nodes.append(helper.make_node("If", [cond], ["picked"], then_branch=then_g, else_branch=else_g, name="if"))
    model = q.model([r])
    model.graph.output.append(helper.make_tensor_value_info("picked", onnx.TensorProto.INT8, [1, 4, 8, 8]))
    out, report = partition_model(model)
    check_valid(model, out)
    assert attr(systolic(out, "QConv")[0], "relu") == 0  # the conv output is read by the If body: no fusion
    assert report.node(node_named(report, r, model)).placement == "cpu"
    names = [n.name for n in out.graph.node]
    back = next(n.name for n in out.graph.node if c in n.output)
    assert names.index(back) < names.index("if")


def test_shared_weight_becomes_one_hwio_initializer() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c1 = q.qconv(xq, 4, 4, y_scale=1 / 64)
    c2 = q.qconv(c1, 4, 4)
    model = q.model([q.dequantize(c2)])
    conv1, conv2 = (n for n in model.graph.node if n.op_type == "QLinearConv")
    conv2.input[3] = conv1.input[3]
    out, _ = partition_model(model)
    check_valid(model, out)
    a, b = systolic(out, "QConv")
    assert a.input[1] == b.input[1] and sum(i.name.endswith("_hwio") for i in out.graph.initializer) == 1


def test_pool_with_used_indices_not_fused() -> None:
    q = nets.QNet()
    xq = q.quantize(q.float_input("x", [1, 4, 8, 8]), 1 / 64)
    c = q.passthrough("Relu", q.qconv(xq, 4, 4))
    q.nodes.append(helper.make_node("MaxPool", [c], ["pooled", "indices"], kernel_shape=[2, 2], strides=[2, 2],
                                    name="pool"))
    model = q.model([c])
    del model.graph.output[:]
    model.graph.output.extend([helper.make_tensor_value_info("pooled", onnx.TensorProto.INT8, [1, 4, 4, 4]),
                               helper.make_tensor_value_info("indices", onnx.TensorProto.INT64, [1, 4, 4, 4])])
    out, report = partition_model(model)
    check_valid(model, out)
    assert "Indices output is used" in (report.node("pool").reason or "")
