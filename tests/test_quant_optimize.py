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
    assert r.returncode == 1 and r.stderr.startswith("rcnn.optimize: error: cannot read model")
    assert len(r.stderr.strip().splitlines()) == 1
