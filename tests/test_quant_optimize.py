"""python -m rcnn.optimize and rcnn.quant.prepare: Gemm/Sum rewrites, BN folding, numerics, version limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from quantnets import bn_gemm_net, run_ort
from rcnn.quant.prepare import optimize, replace_gemm

from conftest import run_cli


def _feeds(seed: int = 1) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((1, 3, 8, 8)).astype(np.float32)}


def test_optimize_rewrites_and_keeps_numerics() -> None:
    src = bn_gemm_net()
    out, report = optimize(src, gemm=True)
    ops = [n.op_type for n in out.graph.node]
    assert "BatchNormalization" not in ops and "Sum" not in ops and "Gemm" not in ops
    assert ops.count("MatMul") == 2 and ops.count("Add") == 2  # Sum -> Add, gemm1's bias Add
    assert any("Gemm -> MatMul" in c for c in report.changes)
    assert out.ir_version <= 10 and 14 <= out.opset_import[0].version <= 22
    onnx.checker.check_model(out, full_check=True)
    feeds = _feeds()
    for want, got in zip(run_ort(src, feeds), run_ort(out, feeds), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gemm_shared_b_gets_a_copy_and_sole_b_is_transposed() -> None:
    model = bn_gemm_net()
    b_before = next(i for i in model.graph.initializer if i.name == "B")
    count, skipped = replace_gemm(model)
    assert count == 2 and not skipped
    mats = [n for n in model.graph.node if n.op_type == "MatMul"]
    # both Gemms read B: neither may transpose it in place, each reads a transposed copy
    assert all(m.input[1] != "B" for m in mats)
    assert next(i for i in model.graph.initializer if i.name == "B") == b_before
    add = next(n for n in model.graph.node if n.op_type == "Add")
    assert add.output[0] == "g1" and add.input[1] == "C"


def test_gemm_with_alpha_is_kept() -> None:
    model = bn_gemm_net()
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    gemm.attribute.append(onnx.helper.make_attribute("alpha", 0.5))
    count, skipped = replace_gemm(model)
    assert count == 1 and len(skipped) == 1 and "alpha=0.5" in skipped[0]


def test_cli_reports_and_writes(tmp_path: Path) -> None:
    src = tmp_path / "in.onnx"
    onnx.save(bn_gemm_net(opset=11, ir=6), str(src))
    r = run_cli("rcnn.optimize", "--input", src, "--output", tmp_path / "out.onnx", "--replace_gemm", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "opset 11 -> 14" in r.stdout and "Sum -> Add: 1" in r.stdout and "BatchNormalization" in r.stdout
    out = onnx.load(str(tmp_path / "out.onnx"))
    assert out.ir_version <= 10 and "Gemm" not in {n.op_type for n in out.graph.node}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx", "out.onnx"]


def test_cli_without_replace_gemm_keeps_gemm(tmp_path: Path) -> None:
    src = tmp_path / "in.onnx"
    onnx.save(bn_gemm_net(), str(src))
    r = run_cli("rcnn.optimize", "--input", src, "--output", tmp_path / "out.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Gemm" in {n.op_type for n in onnx.load(str(tmp_path / "out.onnx")).graph.node}


def test_cli_bad_model_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    r = run_cli("rcnn.optimize", "--input", tmp_path / "bad.onnx", "--output", tmp_path / "o.onnx", cwd=tmp_path)
    assert r.returncode == 3 and r.stderr.startswith("rcnn.optimize: error: cannot read model")
    assert len(r.stderr.strip().splitlines()) == 1


def upsample_net(kernel: int = 2, stride: int = 2, relu: bool = True) -> onnx.ModelProto:
    """x[N,4,5,6] (N symbolic, like a Mask R-CNN's RoIs) -> ConvTranspose(+bias) -> Relu -> 1x1 Conv."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, kernel, kernel)).astype(np.float32), "wt"),
             numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "bt"),
             numpy_helper.from_array(rng.standard_normal((2, 3, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("ConvTranspose", ["x", "wt", "bt"], ["up"], name="up", kernel_shape=[kernel, kernel],
                              strides=[stride, stride])]
    nodes += [helper.make_node("Relu", ["up"], ["r"], name="relu")] if relu else []
    nodes += [helper.make_node("Conv", ["r" if relu else "up", "w2"], ["y"], name="logits")]
    graph = helper.make_graph(nodes, "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 5, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_convtranspose_becomes_conv_and_pixel_shuffle_with_same_numerics() -> None:
    x = {"x": np.random.default_rng(4).standard_normal((3, 4, 5, 6)).astype(np.float32)}
    for relu in (True, False):
        src = upsample_net(relu=relu)
        out, report = optimize(src)
        ops = [n.op_type for n in out.graph.node]
        assert "ConvTranspose" not in ops and any("ConvTranspose -> 1x1 Conv" in c for c in report.changes)
        assert not {"wt", "bt"} & {i.name for i in out.graph.initializer}  # the replaced weights are dropped
        # the Relu moved between the conv and the shuffle, where it can fuse into the conv
        shuffle = ["Shape", "Slice", "Slice", "Concat", "Mul", "Concat", "Reshape", "Transpose", "Reshape"]
        want = ["Conv", "Relu", *shuffle, "Conv"] if relu else ["Conv", *shuffle, "Conv"]
        assert ops == want
        (expected,), (got,) = run_ort(src, x), run_ort(out, x)
        assert got.shape == expected.shape == (3, 2, 10, 12)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_overlapping_convtranspose_is_kept_with_a_reason() -> None:
    out, report = optimize(upsample_net(kernel=3, stride=2))
    assert "ConvTranspose" in [n.op_type for n in out.graph.node]
    assert any("ConvTranspose kept: up (kernel != stride" in c for c in report.changes)


def shape_concat_net() -> onnx.ModelProto:
    """Conv -> Shape -> Slice -> Concat(axis=-1) with [-1] -> Reshape: valid ONNX, and ORT's symbolic shape inference
    asserts (without a message) that a Concat of shape values is on axis 0."""
    rng = np.random.default_rng(0)
    h = onnx.helper
    inits = [onnx.numpy_helper.from_array(a, n) for n, a in (
        ("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)), ("minus1", np.array([-1], np.int64)),
        ("st", np.array([0], np.int64)), ("en", np.array([3], np.int64)))]
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             h.make_node("Shape", ["c"], ["s"], name="shape"),
             h.make_node("Slice", ["s", "st", "en"], ["s3"], name="slice"),
             h.make_node("Concat", ["s3", "minus1"], ["ns"], axis=-1, name="concat_shape"),
             h.make_node("Reshape", ["c", "ns"], ["y"], name="reshape")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_symbolic_shape_assert_falls_back_and_names_the_node(tmp_path: Path) -> None:
    src = tmp_path / "in.onnx"
    onnx.save(shape_concat_net(), str(src))
    r = run_cli("rcnn.optimize", "--input", src, "--output", tmp_path / "out.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "symbolic inference failed (AssertionError at Concat node 'concat_shape')" in r.stdout, r.stdout
    feeds = _feeds()
    np.testing.assert_allclose(run_ort(tmp_path / "out.onnx", feeds)[0], run_ort(src, feeds)[0], rtol=1e-6)


def test_optimize_is_quiet_and_names_a_bn_it_cannot_fold(tmp_path: Path) -> None:
    """An Add -> BatchNormalization (pre-activation style) is reported, not left silently; ORT's C++ warnings about
    the 30 unused initializers an old exporter leaves do not reach stderr."""
    model = bn_gemm_net()
    g = model.graph
    rng = np.random.default_rng(3)
    for i, n in enumerate(g.node):
        if n.name == "relu2":
            g.node.insert(i, onnx.helper.make_node("BatchNormalization", ["s", "bn_s", "bn_b", "bn_m", "bn_v"],
                                                   ["s_bn"], name="bn_after_sum"))
            n.input[0] = "s_bn"
            break
    g.initializer.extend(onnx.numpy_helper.from_array(rng.random(3).astype(np.float32), f"dead{k}") for k in range(30))
    src = tmp_path / "in.onnx"
    onnx.save(model, str(src))
    r = run_cli("rcnn.optimize", "--input", src, "--output", tmp_path / "out.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "BatchNormalization kept: 'bn_after_sum' after Sum 'sum'" in r.stdout, r.stdout
    assert "dead" not in r.stderr and len(r.stderr.splitlines()) < 5, r.stderr
    feeds = _feeds()
    for want, got in zip(run_ort(src, feeds), run_ort(tmp_path / "out.onnx", feeds), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
