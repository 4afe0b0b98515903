"""python -m rcnn.compare: every intermediate is exposed and compared, and the first divergent layer is found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from rcnn import paths
from rcnn.models import testnets as nets
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.tools.compare import (
    EXIT_DIVERGED,
    EXIT_SAME,
    EXIT_USAGE,
    Exposed,
    compare_runs,
    first_divergence,
    format_table,
)

from conftest import run_cli

DEMO_MODEL = paths.DATA_DIR / "demo_int8.onnx"
DEMO_IMAGE = paths.DATA_DIR / "demo.png"


def _report(path: Path) -> dict[str, dict]:
    return {f"{c['a']} vs {c['b']}": c for c in json.loads(path.read_text())["comparisons"]}


# ---- end to end ---------------------------------------------------------------------------------------------------


def test_demo_native_vs_qemu_identical(tmp_path: Path) -> None:
    proc = run_cli("rcnn.compare", DEMO_MODEL, "-i", DEMO_IMAGE, "-o", tmp_path / "runs", "--json",
                   tmp_path / "r.json", cwd=tmp_path, timeout=120)
    assert proc.returncode == EXIT_SAME, proc.stdout + proc.stderr
    cmp = _report(tmp_path / "r.json")["native vs qemu"]
    rows = cmp["rows"]
    assert cmp["first_divergence"] is None
    assert all(r["status"] == "identical" and r["differing"] == 0 for r in rows)
    # Intermediates really were exposed: more tensors than the model's outputs, the EP's units among them (a conv's
    # own output is internal to its unit when a ReLU or pool is fused after it: the unit's last node shows it).
    assert len(rows) > len(read_model_info(DEMO_MODEL).outputs)
    assert {"MaxPool", "Relu", "QLinearMatMul"} <= {r["op"] for r in rows if r["on"] == "accelerator"}
    assert {"logits", "features"} <= {r["tensor"] for r in rows}
    assert "all identical" in proc.stdout and not cmp["notes"]  # no unit was split by the exposure


def test_reference_finds_the_residual_add_lsb(tmp_path: Path) -> None:
    """The accelerator's residual add is within 1 LSB of QLinearAdd (documented): --reference must stop there."""
    model = nets.quantize_qoperator(nets.resnet_block(size=16, channels=8))
    onnx.save(model, str(tmp_path / "resnet.onnx"))
    image = nets.demo_image(tmp_path / "img.png", size=40, seed=3)
    # The float tail (GlobalAveragePool, ...) runs on ONNX Runtime's own kernels, which its x86 and riscv64 builds
    # round one ULP apart: floats within 1e-6, integers always exact.
    proc = run_cli("rcnn.compare", tmp_path / "resnet.onnx", "-i", image, "-p", "torchvision", "--reference",
                   "--tolerance", "1e-6", "-o", tmp_path / "runs", "--json", tmp_path / "r.json",
                   cwd=tmp_path, timeout=120)
    assert proc.returncode == EXIT_DIVERGED, proc.stdout + proc.stderr
    report = _report(tmp_path / "r.json")
    assert report["native vs qemu"]["first_divergence"] is None  # emulation is exact; only the reference differs
    ref = report["reference vs qemu"]
    first = ref["rows"][ref["first_divergence"]]
    assert (first["op"], first["on"]) == ("com.microsoft.QLinearAdd", "accelerator")
    assert first["max_lsb_diff"] == 1 and first["differing"] > 0
    assert all(r["status"] == "identical" for r in ref["rows"][:ref["first_divergence"]])
    assert "documented rounding difference" in proc.stdout
    # The table stops at the add.
    ref_table = proc.stdout.split("== reference vs qemu")[1]
    assert first["tensor"] in ref_table and "more tensor(s) after the first divergence" in ref_table
    assert "DequantizeLinear" not in ref_table.split("first divergence:")[0].split(first["tensor"])[1]


def test_missing_model_is_a_one_line_usage_error(tmp_path: Path) -> None:
    proc = run_cli("rcnn.compare", tmp_path / "nope.onnx", "-i", DEMO_IMAGE, cwd=tmp_path, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.strip().splitlines() == [f"rcnn.compare: error: model not found: {tmp_path / 'nope.onnx'}"]
    assert not (tmp_path / "runs").exists()


# ---- the comparison itself ------------------------------------------------------------------------------------------


def _layers(n: int) -> list[Exposed]:
    return [Exposed(f"t{k}", f"layer{k}", "QLinearConv", onnx.TensorProto.INT8) for k in range(n)]


def test_stops_at_the_third_layer_with_its_lsb_difference() -> None:
    rng = np.random.default_rng(0)
    a = {f"t{k}": rng.integers(-128, 128, (1, 4, 5, 5)).astype(np.int8) for k in range(5)}
    b = {k: v.copy() for k, v in a.items()}
    a["t2"][0, 1, 2, 3], b["t2"][0, 1, 2, 3] = 10, 12  # 2 LSB
    a["t2"][0, 0, 0, 0], b["t2"][0, 0, 0, 0] = -5, -4  # 1 LSB
    b["t4"][0, 0, 0, 0] = a["t4"][0, 0, 0, 0] ^ 64  # later divergence: must not be the one reported
    rows = compare_runs(_layers(5), a, b)
    assert first_divergence(rows) == 2
    assert (rows[2].max_lsb_diff, rows[2].differing, rows[2].status) == (2, 2, "DIFFERS")
    assert [r.status for r in rows[:2]] == ["identical", "identical"]
    table = format_table(rows)
    assert "layer2" in table and "layer3" not in table and "layer4" not in table
    assert "2 more tensor(s)" in table
    assert "layer4" in format_table(rows, show_all=True)


def test_int8_extremes_do_not_wrap_and_floats_use_the_tolerance() -> None:
    a = {"t0": np.array([-128, 5], np.int8), "t1": np.array([1.0, 2.0], np.float32)}
    b = {"t0": np.array([127, 5], np.int8), "t1": np.array([1.0, 2.0 + 4e-6], np.float32)}
    items = [*_layers(1), Exposed("t1", "dq", "DequantizeLinear", onnx.TensorProto.FLOAT)]
    rows = compare_runs(items, a, b)
    assert rows[0].max_lsb_diff == 255
    assert rows[1].max_lsb_diff is None and rows[1].differing == 1 and rows[1].status == "DIFFERS"
    loose = compare_runs(items, a, b, tolerance=1e-5)
    assert loose[1].status == "within tolerance" and loose[1].differing == 0
