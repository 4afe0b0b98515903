"""python -m rcnn.bench: the same int8 model on ONNX Runtime's CPU EP and on the systolic accelerator, natively and
under qemu-riscv64, side by side in one invocation; prints medians and the ratios that matter.

Ratios (each from runs made here, minutes apart at most):
  qemu speed-up      ORT CPU EP under qemu / systolic under qemu     (how much the accelerator model saves a user)
  qemu overhead      systolic under qemu / systolic native           (what emulation costs)
  native speed-up    ORT CPU EP native / systolic native
Without MODEL it builds a ResNet-style int8 model (stem, residual blocks, global pool, matmul head; 224x224).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, positive_int, run_cli
from rcnn.models.demo import DEMO_MODEL
from rcnn.tools.bench import BUILTIN, TARGETS, BenchResult, ratio_lines, run_bench
from rcnn.tools.fanout_bench import fan_out_bench, format_fan_out


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.bench", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("model", nargs="?", type=Path, default=None,
                   help="quantized ONNX model, QOperator or QDQ (default: the --builtin models, built on the fly)")
    p.add_argument("--builtin", default="resnet,mobilenet", metavar="NAME,NAME",
                   help="built-in models to bench when no MODEL is given, comma-separated: resnet (a ResNet-style "
                        "int8 QOperator model), mobilenet (torchvision's mobilenet_v3_small, seeded random weights, "
                        "calibrated with rcnn.calibrate's defaults; needs the models extra) (default: both)")
    p.add_argument("-r", "--repeat", type=int, default=5,
                   help="inferences per case (the first is not counted when there are more; default: 5)")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads, for ORT and the accelerator alike (default: 1)")
    p.add_argument("--targets", default="native,qemu", help="comma-separated: native, qemu (default: both)")
    p.add_argument("-x", "--modes", default="0,1,2",
                   help="accelerator modes to run, comma-separated: 0 CPU, 1 OS, 2 WS (default: all three)")
    fan = p.add_argument_group("dataset scale (rcnn.tools.fanout_bench): instead of the cases above")
    fan.add_argument("--fan-out", type=positive_int, default=None, metavar="N",
                     help="run the demo model on the first N synthetic validation images: a bare loop in this "
                          "process vs rcnn.eval's Ray path with -j 1 and -j 2 (default: not run)")
    fan.add_argument("--fan-out-runner", choices=("systolic-qemu", "systolic-native"), default="systolic-qemu",
                     help="the runner of --fan-out (default: systolic-qemu, device mode)")
    fan.add_argument("--fan-out-x", type=int, choices=[0, 1, 2], default=2,
                     help="the accelerator mode of --fan-out (default: 2)")
    fan.add_argument("--fan-out-workers", default="1,2", metavar="K,K",
                     help="local Ray instance sizes to run, comma-separated (default: 1,2)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.fan_out:
        workers = [positive_int(k) for k in a.fan_out_workers.split(",") if k]
        rows = fan_out_bench(a.fan_out, a.fan_out_runner, a.fan_out_x, workers)
        print(f"runner {a.fan_out_runner}, -x {a.fan_out_x}, demo model {DEMO_MODEL.name}")
        print("\n".join(format_fan_out(rows, a.fan_out)))
        return 0
    targets = [t for t in a.targets.split(",") if t]
    if not set(targets) <= set(TARGETS) or a.repeat < 1 or a.threads < 1:
        build_parser().error("--targets takes native and/or qemu; --repeat and --threads must be >= 1")
    modes = [int(m) for m in a.modes.split(",") if m]
    kinds = [k for k in a.builtin.split(",") if k]
    if a.model is None and (not kinds or not set(kinds) <= set(BUILTIN)):
        build_parser().error(f"--builtin takes a comma-separated list of {', '.join(BUILTIN)}")
    for n, kind in enumerate(kinds if a.model is None else [""]):
        if n:
            print()
        print_bench(run_bench(a.model, targets, modes, a.repeat, a.threads, kind), modes, a)
    return 0


def print_bench(r: BenchResult, modes: list[int], a: argparse.Namespace) -> None:
    if r.placement is not None:
        print(f"model: {r.model.name}; placement (Systolic EP): {r.placement.placed} of {len(r.placement.nodes)} "
              f"nodes, {100 * (r.placement.mac_share or 0):.1f} % of MACs on the accelerator")
    print(f"\nmedian inference time ({a.repeat} runs, first excluded when more than one; {a.threads} thread(s))")
    for case, ms in r.medians.items():
        print(f"  {case.label:<34} {ms:10.2f} ms")
    print("\nratios")
    for line in ratio_lines(r.medians, modes):
        print(line)
    if r.identical is not None:
        systolic = sum(c.engine == "systolic" for c in r.medians)
        print(f"\nsystolic outputs bit-identical across {systolic} runs (targets x modes x devices): {r.identical}")


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.bench", main))
