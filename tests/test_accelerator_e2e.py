"""Issue-level promise: a ResNet-style int8 model runs on the accelerator through `python -m rcnn.run`, with nearly
all MACs placed, and gives the same integers natively and under qemu in every dataflow mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from rcnn.models.testnets import quantize_qoperator, resnet_float
from rcnn.runtime.runner import read_outputs

from conftest import only_run_dir, random_input, run_cli


@pytest.fixture(scope="module")
def resnet_int8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("resnet") / "resnet_int8.onnx"
    onnx.save(quantize_qoperator(resnet_float(size=64, widths=(16, 32))), str(path))
    return path


def test_resnet_bit_identical_across_targets_and_modes(resnet_int8: Path, tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=11)
    outputs = {}
    for target in ("native", "rv64"):
        for mode in ("0", "1", "2"):
            parent = tmp_path / f"{target}-{mode}"
            flags = ["--native"] if target == "native" else []
            r = run_cli("rcnn.run", "-m", resnet_int8, "--input", x, "-x", mode, "-o", parent, *flags, cwd=tmp_path)
            assert r.returncode == 0, r.stderr
            assert "== placement:" in r.stdout and "== accelerator (" in r.stdout
            run_dir = only_run_dir(parent)
            placement = json.loads((run_dir / "placement.json").read_text())
            assert placement["summary"]["mac_share"] >= 0.95
            report, outs = read_outputs(run_dir)
            ops = report["systolic_ep"]["ops"]  # the Systolic EP's counters (rcnn.run's default binding)
            assert ops["QConv"]["calls"] >= 5 and ops["QConv"]["macs"] > 0
            assert report["systolic_ep"]["mode"] == {"0": "cpu", "1": "os", "2": "ws"}[mode]
            assert (ops["QConv"]["tiles"] > 0) == (mode != "0")  # OS and WS walk the hardware tiles
            outputs[target, mode] = outs
    first = outputs["native", "0"]
    assert np.abs(first["logits"]).max() > 0
    for key, outs in outputs.items():
        for name in first:
            np.testing.assert_array_equal(outs[name], first[name], err_msg=f"{key} {name}")


def test_partition_off_runs_the_cpu_ep(resnet_int8: Path, tmp_path: Path) -> None:
    x = random_input(tmp_path / "x.pb", (1, 3, 64, 64), seed=11)
    r = run_cli("rcnn.run", "--native", "--partition", "off", "-m", resnet_int8, "--input", x, "-o", tmp_path / "r",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "== placement" not in r.stdout and "== accelerator" not in r.stdout
    report, _ = read_outputs(only_run_dir(tmp_path / "r"))
    assert "systolic" not in report
