"""python -m rcnn.bench end to end on its built-in model: the accelerator through the Systolic EP, native and under
qemu, prints its medians and ratios and agrees bit for bit across targets. No timing is asserted (speed is what the
bench reports, not what a test checks)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import run_cli


def test_bench_runs_every_case_and_reports_ratios(tmp_path: Path) -> None:
    r = run_cli("rcnn.bench", "--builtin", "resnet", "--targets", "native,qemu", "-x", "0,2", "-r", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"placement \(Systolic EP\): \d+ of \d+ nodes, 100\.0 % of MACs on the accelerator", r.stdout)
    medians = re.findall(r"^  (native|qemu)\s+(ort-cpu|systolic(?: -x \d)?(?: host device)?)\s+([0-9.]+) ms$",
                         r.stdout, re.M)
    # ORT and -x 0 / -x 2 per target, and under qemu -x 2 once more with the arithmetic in the device process.
    assert len(medians) == 7 and all(float(ms) > 0 for *_, ms in medians), r.stdout
    assert ("qemu", "systolic -x 2 host device") in {(t, e) for t, e, _ in medians}
    for mode in ("0", "2"):
        for ratio in ("qemu speed-up", "qemu overhead", "native speed-up") + (
                ("qemu speed-up, host device", "qemu overhead, host device", "host device speed-up") if mode == "2"
                else ()):
            assert re.search(rf"-x {mode}\s+{ratio} .*\s[0-9.]+x$", r.stdout, re.M), (mode, ratio, r.stdout)
    assert "bit-identical across 5 runs (targets x modes x devices): True" in r.stdout


def test_bench_mobilenet_builtin(tmp_path: Path) -> None:
    """The built-in MobileNetV3 (depthwise convs, hard-swish, SE), calibrated with rcnn.calibrate's defaults: almost
    all of its MACs on the accelerator (the SE's float squeeze and the pooling stay on the CPU), every case run,
    and the accelerator's outputs bit-identical natively, under qemu, in both modes and with the device process."""
    r = run_cli("rcnn.bench", "--builtin", "mobilenet", "--targets", "native,qemu", "-x", "0,2", "-r", "2",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"model: mobilenet_v3_small_int8.onnx; placement \(Systolic EP\): \d+ of \d+ nodes, ([0-9.]+) % of "
                  r"MACs on the accelerator", r.stdout)
    assert m and float(m.group(1)) >= 98.0, r.stdout
    assert len(re.findall(r" ms$", r.stdout, re.M)) == 7, r.stdout
    assert "bit-identical across 5 runs (targets x modes x devices): True" in r.stdout
