"""python -m rcnn.calibrate and rcnn.quant: op sequences, zero points, toggles, detection rule, post-pass, placement."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from quantnets import bn_gemm_net, run_ort, write_dataset
from rcnn.models import testnets
from rcnn.quant.data import ZooDataReader, apply_preprocess
from rcnn.quant.int8_fixups import int8_relu_pass
from rcnn.quant.prepare import optimize
from rcnn.quant.quantize import QuantizeOptions, quantize_model

from conftest import run_cli

RESNET_INT8 = ["QuantizeLinear", "QLinearConv", "Relu", "MaxPool", "QLinearConv", "Relu", "QLinearConv", "QLinearAdd",
               "Relu", "QLinearConv", "QLinearConv", "Relu", "QLinearConv", "QLinearAdd", "Relu", "DequantizeLinear",
               "GlobalAveragePool", "Flatten", "QuantizeLinear", "QLinearMatMul", "DequantizeLinear"]


@pytest.fixture(scope="module")
def resnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("resnet")
    path = d / "resnet.onnx"
    onnx.save(testnets.resnet_float(size=32, widths=(8, 16)), str(path))
    return path, write_dataset(d / "data", (1, 3, 32, 32), samples=4, scale=255.0)


@pytest.fixture(scope="module")
def bn_gemm(tmp_path_factory: pytest.TempPathFactory) -> tuple[onnx.ModelProto, Path]:
    d = tmp_path_factory.mktemp("bn_gemm")
    model, _ = optimize(bn_gemm_net(), gemm=True)
    return model, write_dataset(d / "data", (1, 3, 8, 8), samples=4, scale=255.0)


def _quantize(model: onnx.ModelProto, data: Path, **kw: object) -> onnx.ModelProto:
    reader = ZooDataReader(model, data, "torchvision", progress=False)
    return quantize_model(model, reader, QuantizeOptions(**kw))[0]


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def _zero_points(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith("zero_point")}


def _image_feed(shape: tuple[int, ...], seed: int = 9) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).random(shape, dtype=np.float32)}  # torchvision range 0..1


def test_resnet_int8_sequence_zero_points_error_and_placement(resnet: tuple[Path, Path], tmp_path: Path) -> None:
    path, data = resnet
    float_model = onnx.load(str(path))
    out = tmp_path / "q.onnx"
    r = run_cli("rcnn.calibrate", "--model_path", path, "--dataset_path", data, "--output_model_path", out,
                "--static=True", "--data_preprocess=torchvision", "--mode=int", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "calibrating" in r.stderr and "4/4" in r.stderr  # the tqdm bar
    assert [p.name for p in tmp_path.iterdir()] == ["q.onnx"]  # nothing else in the cwd
    q = onnx.load(str(out))
    assert _ops(q) == RESNET_INT8
    zps = _zero_points(q)
    assert zps and all(z.dtype == np.int8 and not z.any() for z in zps.values())
    feeds = _image_feed((1, 3, 32, 32))
    want, got = run_ort(float_model, feeds)[0], run_ort(q, feeds)[0]
    assert np.abs(got - want).max() < 0.05 * (want.max() - want.min())
    import rcnn.systolic

    report = rcnn.systolic.report(rcnn.systolic.session(out))
    assert report["summary"]["accelerator_mac_fraction"] >= 0.95, report["summary"]


def test_uint8_is_asymmetric(resnet: tuple[Path, Path]) -> None:
    path, data = resnet
    q = _quantize(onnx.load(str(path)), data, mode="uint8")
    assert "Relu" not in _ops(q) and "QLinearConv" in _ops(q)
    zps = _zero_points(q)
    assert all(z.dtype == np.uint8 for z in zps.values()) and any(z.any() for z in zps.values())


def test_post_pass_is_bit_identical(resnet: tuple[Path, Path]) -> None:
    path, data = resnet
    before = _quantize(onnx.load(str(path)), data, int8_post_pass=False)
    assert _ops(before).count("DequantizeLinear") > 2  # Relu and MaxPool sit between DQ and Q
    after = copy.deepcopy(before)
    moved, removed = int8_relu_pass(after)
    assert moved and removed and _ops(after) == RESNET_INT8
    onnx.checker.check_model(after, full_check=True)
    feeds = _image_feed((1, 3, 32, 32), seed=5)
    for level in (0, 99):
        np.testing.assert_array_equal(run_ort(after, feeds, level)[0], run_ort(before, feeds, level)[0])


def test_target_aware_add_mul_by_default(bn_gemm: tuple[onnx.ModelProto, Path]) -> None:
    """Default: the residual add (Sum of two activations -> Add) quantized, the Gemm's bias Add (a constant input)
    and the Mul by a constant kept float, each counted in the report with its reason."""
    model, data = bn_gemm
    reader = ZooDataReader(model, data, "torchvision", progress=False)
    q, report = quantize_model(model, reader, QuantizeOptions())
    by_name = {n.name: n.op_type for n in q.graph.node}
    assert by_name["sum_quant"] == "QLinearAdd"
    assert [o for o in by_name.values() if o in ("Add", "Mul", "QLinearMul")] == ["Add", "Mul"], by_name
    notes = report.notes or []
    assert "elementwise ops quantized: 1 residual adds (the accelerator's resadd)" in notes, notes
    assert any(n.startswith("elementwise ops kept float: 1 adds with a constant input") for n in notes), notes
    assert any(n.startswith("elementwise ops kept float: 1 Muls (no accelerator op") for n in notes), notes


def test_bn_gemm_net_and_add_mul_toggles(bn_gemm: tuple[onnx.ModelProto, Path]) -> None:
    model, data = bn_gemm
    full = _ops(_quantize(model, data, quantize_add=True, quantize_mul=True))
    assert "QLinearMatMul" in full and "QLinearAdd" in full and "QLinearMul" in full and "QGemm" not in full
    no_add = _ops(_quantize(model, data, quantize_add=False, quantize_mul=True))
    no_mul = _ops(_quantize(model, data, quantize_add=True, quantize_mul=False))
    assert "QLinearAdd" not in no_add and "Add" in no_add and "QLinearMul" in no_add
    assert "QLinearMul" not in no_mul and "Mul" in no_mul and "QLinearAdd" in no_mul
    assert [o for o in no_mul if o not in ("Mul", "QLinearMul", "QuantizeLinear", "DequantizeLinear")] == [
        o for o in full if o not in ("Mul", "QLinearMul", "QuantizeLinear", "DequantizeLinear")]


def detector_net() -> onnx.ModelProto:
    """A detector's shape in small: backbone conv -> relu -> {rpn conv -> ReduceMean -> NMS -> Cast -> Mul,
    RoiAlign -> head conv -> relu -> predictor conv}."""
    rng = np.random.default_rng(0)

    def f32(name: str, a: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)

    inits = [f32("w", rng.normal(0, 0.3, (4, 3, 3, 3))), f32("w_rpn", rng.normal(0, 0.3, (4, 4, 3, 3))),
             f32("w2", rng.normal(0, 0.3, (4, 4, 1, 1))), f32("w3", rng.normal(0, 0.3, (2, 4, 1, 1))),
             f32("rois", [[0, 0, 4, 4], [2, 2, 7, 7]]), numpy_helper.from_array(np.zeros(2, np.int64), "bidx"),
             f32("boxes", [[[0, 0, 1, 1], [0, 0, 0.9, 0.9], [2, 2, 3, 3], [5, 5, 6, 6]]]),
             numpy_helper.from_array(np.array([1, 1, 4], np.int64), "shape"), f32("half", 0.5)]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="backbone", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="backbone_relu"),
        helper.make_node("Conv", ["r", "w_rpn"], ["rpn"], name="rpn_logits", pads=[1, 1, 1, 1]),
        helper.make_node("RoiAlign", ["r", "rois", "bidx"], ["roi"], name="roi_align", output_height=2,
                         output_width=2),
        helper.make_node("Conv", ["roi", "w2"], ["h"], name="box_head"),
        helper.make_node("Relu", ["h"], ["hr"], name="box_head_relu"),
        helper.make_node("Conv", ["hr", "w3"], ["head"], name="box_predictor"),
        helper.make_node("ReduceMean", ["rpn"], ["m"], name="score", axes=[2, 3]),
        helper.make_node("Reshape", ["m", "shape"], ["scores"], name="scores"),
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms"),
        helper.make_node("Cast", ["sel"], ["self"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["self", "half"], ["picked"], name="post_mul"),
    ]
    graph = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("head", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("picked", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model


def test_detection_rule_quantizes_the_dense_network_only(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "data", (1, 3, 8, 8), scale=255.0)
    model = detector_net()
    q = _quantize(model, data)
    by_name = {n.name: n.op_type for n in q.graph.node}
    assert by_name["backbone_quant"] == "QLinearConv"  # dense: quantized (QOperator renames it)
    assert by_name["box_head_quant"] == "QLinearConv"  # a head after RoiAlign is dense too
    # prediction layers (feeding only float post-processing) stay float, like the box/score arithmetic
    assert by_name["box_predictor"] == "Conv" and by_name["rpn_logits"] == "Conv"
    assert by_name["post_mul"] == "Mul" and by_name["score"] == "ReduceMean"
    assert by_name["roi_align"] == "RoiAlign" and by_name["nms"] == "NonMaxSuppression"
    feeds = _image_feed((1, 3, 8, 8))
    assert [a.shape for a in run_ort(q, feeds)] == [a.shape for a in run_ort(model, feeds)]
    with_predictions = {n.name: n.op_type for n in _quantize(model, data, float_predictions=False).graph.node}
    assert with_predictions["box_predictor_quant"] == "QLinearConv" and with_predictions["rpn_logits_quant"]
    # --include-nodes brings a float-kept node in; --exclude-nodes wins over everything
    q2 = _quantize(model, data, include_nodes=["post_*", "box_*"], exclude_nodes=["backbone", "box_head"])
    by_name = {n.name: n.op_type for n in q2.graph.node}
    assert by_name["post_mul_quant"] == "QLinearMul" and by_name["backbone"] == "Conv" and by_name["box_head"] == "Conv"
    assert by_name["box_predictor_quant"] == "QLinearConv"


def test_cli_bad_static_is_one_line_error(resnet: tuple[Path, Path], tmp_path: Path) -> None:
    path, data = resnet
    r = run_cli("rcnn.calibrate", "--model_path", path, "--dataset_path", data, "--static=Ture",
                "--data_preprocess=None", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("rcnn.calibrate: error: argument --static")
    assert len(r.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_cli_wrong_input_count_is_one_line_error(resnet: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = resnet
    (tmp_path / "empty").mkdir()
    r = run_cli("rcnn.calibrate", "--model_path", path, "--dataset_path", tmp_path / "empty", "--static=yes",
                "--data_preprocess=None", "--output_model_path", tmp_path / "q.onnx", cwd=tmp_path)
    assert r.returncode == 1 and "has 0 input_*.pb file(s), the model has 1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_help_explains_flags(tmp_path: Path) -> None:
    r = run_cli("rcnn.calibrate", "--help", cwd=tmp_path)
    assert r.returncode == 0
    for flag in ("--static", "--data_preprocess", "--mode", "--no-quantize-add", "--no-quantize-mul",
                 "--exclude-nodes", "--include-nodes", "--per_channel", "--calibrate_method", "--dataset_size"):
        assert flag in r.stdout


def test_data_preprocess_modes_match_hand_computed_values() -> None:
    raw = np.zeros((1, 3, 2, 2), np.float32)
    raw[0, 0], raw[0, 1], raw[0, 2] = 10.0, 20.0, 30.0  # R, G, B
    rcnn = apply_preprocess(raw, "rcnn")
    assert rcnn.shape == (3, 2, 2)  # the seed's rcnn mode is CHW
    np.testing.assert_allclose(rcnn[:, 0, 0], [30 - 102.9801, 20 - 115.9465, 10 - 122.7717], rtol=1e-6)
    mx = apply_preprocess(raw, "mxnet")
    assert mx.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(mx[0, :, 0, 0], [(30 / 255 - 0.406) / 0.225, (20 / 255 - 0.456) / 0.224,
                                                (10 / 255 - 0.485) / 0.229], rtol=1e-5)
    np.testing.assert_allclose(apply_preprocess(raw, "caffe")[0, :, 0, 0],
                               [(30 - 103.94) * 0.017, (20 - 116.78) * 0.017, (10 - 123.68) * 0.017], rtol=1e-5)
    ints = apply_preprocess(raw.astype(np.int32), "None")
    assert ints.dtype == np.float32 and ints.shape == raw.shape


def _top_down_net() -> onnx.ModelProto:
    """x[1,3,H,W] free -> conv a; a -> stride-2 conv -> 2x nearest Resize -> Add(a, .): an FPN top-down step, which
    only broadcasts when H and W are even."""
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, s).astype(np.float32), n)
             for n, s in (("w1", (4, 3, 3, 3)), ("w2", (4, 4, 3, 3)))]
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Resize", ["b", "", "scales"], ["c"], name="up", mode="nearest"),
             helper.make_node("Add", ["a", "c"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "top_down", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [1, 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_mixed_sample_sizes_named_when_calibration_fails(tmp_path: Path) -> None:
    from rcnn.runtime.tensors import save_tensor

    onnx.save(_top_down_net(), str(tmp_path / "m.onnx"))
    rng = np.random.default_rng(0)
    for n, hw in enumerate((16, 16, 17)):
        save_tensor((rng.random((1, 3, hw, hw)) * 255).astype(np.float32),
                    tmp_path / "data" / f"test_data_set_{n}" / "input_0.pb", "x")
    r = run_cli("rcnn.calibrate", "--model_path", tmp_path / "m.onnx", "--dataset_path", tmp_path / "data",
                "--output_model_path", tmp_path / "q.onnx", "--static", "true", "--data_preprocess", "None", "-q",
                cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "quantize_static failed" in r.stderr
    assert ("the calibration samples come in 2 shapes: test_data_set_0 [1, 3, 16, 16], test_data_set_2 "
            "[1, 3, 17, 17]; rebuild them at one size with rcnn.dataset --size H W") in r.stderr, r.stderr
    assert not (tmp_path / "q.onnx").exists()


def test_constant_node_weights_are_quantized_ahead_and_placed(tmp_path: Path) -> None:
    """Weights an exporter keeps in a Constant node (rcnn.optimize skipped): calibration turns it into an
    initializer, so QLinearConv gets constant int8 weights and the accelerator takes the conv at every optimization
    level (without that, quantize_static leaves a QuantizeLinear of the float weights to run in the session, and
    with graph optimizations off nothing folds it: the EP declines, 'weights are not a constant')."""
    import onnxruntime as ort

    import rcnn.systolic

    w = np.random.default_rng(0).normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w, "wv"), name="wconst"),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = write_dataset(tmp_path / "data", (1, 3, 8, 8), samples=2, scale=255.0)
    quant, report = quantize_model(model, ZooDataReader(model, data, "torchvision", progress=False),
                                   QuantizeOptions())
    assert any(n.startswith("1 Constant node(s) -> initializers") for n in report.notes), report.notes
    ops = [n.op_type for n in quant.graph.node]
    assert "Constant" not in ops and ops.count("QuantizeLinear") == 1, ops
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        s = rcnn.systolic.session(quant.SerializeToString(), sess_options=so)
        s.run(None, {"x": np.random.default_rng(1).random((1, 3, 8, 8), dtype=np.float32)})
        placed = {n["op"]: (n["placement"], n.get("reason")) for n in rcnn.systolic.report(s)["nodes"]}
        assert placed["QLinearConv"][0] == "accelerator", (level, placed)


def _depthwise_net() -> onnx.ModelProto:
    """conv 3->8 -> relu -> depthwise 3x3 (group 8) with channel ranges 100x apart -> relu -> 1x1 conv."""
    rng = np.random.default_rng(2)
    dw = rng.normal(0, 0.3, (8, 1, 3, 3)) * np.logspace(-1, 1, 8)[:, None, None, None]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), ("wd", dw), ("w2", rng.normal(0, 0.3, (4, 8, 1, 1))))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "wd"], ["d"], name="dw", pads=[1, 1, 1, 1], group=8),
             helper.make_node("Relu", ["d"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w2"], ["y"], name="pw")]
    graph = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _w_scales(q: onnx.ModelProto) -> list[int]:
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    return [inits[n.input[4]].size for n in q.graph.node if n.op_type == "QLinearConv"]


def test_per_channel_by_default_exactly_for_depthwise_models(tmp_path: Path,
                                                             bn_gemm: tuple[onnx.ModelProto, Path]) -> None:
    data = write_dataset(tmp_path / "data", (1, 3, 8, 8), samples=2, scale=255.0)
    model = _depthwise_net()
    q, report = quantize_model(model, ZooDataReader(model, data, "torchvision", progress=False), QuantizeOptions())
    assert _w_scales(q) == [8, 8, 4], _w_scales(q)
    assert "per-channel weight scales: on (1 depthwise conv(s)" in (report.notes or [""])[0]
    q, report = quantize_model(model, ZooDataReader(model, data, "torchvision", progress=False),
                               QuantizeOptions(per_channel=False))
    assert _w_scales(q) == [1, 1, 1] and report.notes and report.notes[0].endswith("off (asked)")
    other, other_data = bn_gemm
    opts = QuantizeOptions()
    _, report = quantize_model(other, ZooDataReader(other, other_data, "torchvision", progress=False), opts)
    assert report.notes and report.notes[0] == "per-channel weight scales: off (no depthwise conv)"
    assert opts.per_channel is None  # the caller's options are not resolved in place


def test_u8s8_mode_uint8_activations_int8_weights_all_on_the_accelerator(tmp_path: Path) -> None:
    import rcnn.systolic

    data = write_dataset(tmp_path / "data", (1, 3, 8, 8), samples=2, scale=255.0)
    model = _depthwise_net()
    q, _ = quantize_model(model, ZooDataReader(model, data, "torchvision", progress=False),
                          QuantizeOptions(mode="u8s8"))
    inits = {i.name: i for i in q.graph.initializer}
    convs = [n for n in q.graph.node if n.op_type == "QLinearConv"]
    assert all(inits[n.input[2]].data_type == TensorProto.UINT8 for n in convs)  # x zero point: uint8
    assert all(inits[n.input[3]].data_type == TensorProto.INT8 for n in convs)  # weights: int8
    assert all(not numpy_helper.to_array(inits[n.input[5]]).any() for n in convs)  # symmetric: zero point 0
    x = {"x": np.random.default_rng(3).random((1, 3, 8, 8), dtype=np.float32)}
    outs = []
    for mode in ("cpu", "ws"):
        s = rcnn.systolic.session(q.SerializeToString(), mode=mode)
        outs.append(s.run(None, x)[0])
        assert rcnn.systolic.report(s)["summary"]["accelerator_mac_fraction"] == 1.0
    np.testing.assert_array_equal(outs[0], outs[1])
    # (Not compared with ORT's CPU EP bit for bit: its AVX2 U8S8 kernel saturates int16 pair sums on some CPUs.)
    want = run_ort(model, x)[0].ravel()
    got = outs[0].ravel()
    assert float(want @ got / np.linalg.norm(want) / np.linalg.norm(got)) > 0.99
