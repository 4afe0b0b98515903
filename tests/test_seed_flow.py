"""The reference's flow as a user types it, on a small torchvision Mask R-CNN: export → optimize --replace_gemm →
dataset → calibrate --static=True --data_preprocess=torchvision --mode=int → rcnn.run -x 0 -O 99 -d 0 under qemu."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from rcnn.runtime.runner import read_outputs

from conftest import only_run_dir, riscv64_ort_version, run_cli


def _ok(module: str, *args: str | Path, cwd: Path) -> str:
    r = run_cli(module, *args, cwd=cwd)
    assert r.returncode == 0, f"{module}: {r.stderr}"
    return r.stdout


def test_seed_flow_on_a_small_mask_rcnn_runs_under_qemu(tmp_path: Path) -> None:
    _ok("rcnn.export", "--arch", "shapes_resnet18_fpn", "--random-init", "-o", "m.onnx", cwd=tmp_path)
    out = _ok("rcnn.optimize", "--input", "m.onnx", "--output", "m_opt.onnx", "--replace_gemm", cwd=tmp_path)
    assert "Gemm -> MatMul(+Add): 4" in out  # the box head's two fc layers and two predictors
    _ok("rcnn.shapes", "--out", "images", "--count", "3", "--seed", "2", "-q", cwd=tmp_path)
    _ok("rcnn.dataset", "--images", "images/images", "--out", "calib", "-p", "none", "--model", "m_opt.onnx", "-q",
        cwd=tmp_path)
    out = _ok("rcnn.calibrate", "--model_path", "m_opt.onnx", "--dataset_path", "calib", "--output_model_path",
              "m_int8.onnx", "--static=True", "--data_preprocess=torchvision", "--mode=int", "-q", cwd=tmp_path)
    assert "kept float by the detection rule" in out
    quant = onnx.load(str(tmp_path / "m_int8.onnx"))
    ops = {n.name: n.op_type for n in quant.graph.node}
    # The dense network is int8 — backbone, FPN, RPN head, box head (MatMul) and mask head — the rest float.
    for prefix in ("/backbone/body/", "/backbone/fpn/", "/rpn/head/", "/roi_heads/box_head/", "/roi_heads/mask_head/"):
        assert any(name.startswith(prefix) and op.startswith("QLinear") for name, op in ops.items()), prefix
    assert {"RoiAlign", "TopK", "If"} <= set(ops.values())  # NonMaxSuppression sits inside the If branches
    assert all(i.data_type != onnx.TensorProto.UINT8 for i in quant.graph.initializer)  # int8 mode: no uint8

    out = _ok("rcnn.run", "-m", "m_int8.onnx", "-i", "images/images/00000.png", "-x", "0", "-O", "99", "-d", "0",
              "-o", "runs", cwd=tmp_path)
    run_dir = only_run_dir(tmp_path / "runs")
    report, outputs = read_outputs(run_dir)
    assert report["ort_version"] == riscv64_ort_version()  # Debian's riscv64 runtime, as locked
    assert set(outputs) == {"boxes", "labels", "scores", "masks"}
    n = len(outputs["scores"])
    assert outputs["boxes"].shape == (n, 4) and outputs["masks"].shape == (n, 1, 28, 28)
    assert np.isfinite(outputs["boxes"]).all()
    assert report["systolic_ep"]["total"]["macs"] > 10**9  # the dense network ran on the accelerator (the EP)
    assert "% of MACs" in out and (run_dir / "annotated.png").is_file()
    assert isinstance(json.loads((run_dir / "detections.json").read_text()), list)
