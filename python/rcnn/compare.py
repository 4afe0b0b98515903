"""python -m rcnn.compare: find the first layer where two runs of a model diverge (the tool for "this run looks wrong").

How it works, the table and the exit status: rcnn.tools.compare (printed by --help).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, positive_seconds, run_cli
from rcnn.errors import RcnnError
from rcnn.runtime.preprocess import preprocess_arg
from rcnn.runtime.rundir import fresh_run_dir
from rcnn.runtime.runner import add_adds_flag, add_device_flag
from rcnn.tools import compare as compare_lib
from rcnn.tools.compare import (
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_SAME,
    CompareOptions,
    compare_model,
    format_table,
    write_json,
)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.compare", description=compare_lib.__doc__, formatter_class=HelpFormatter)
    p.add_argument("model", type=Path, metavar="MODEL", help="ONNX model (quantized, QOperator or QDQ, for the "
                   "accelerator)")
    p.add_argument("-i", "--image", type=Path, default=None,
                   help="image file for the model's first input, preprocessed by -p (default: none; give -i or "
                        "--input)")
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="a tensor file (.pb or .npy) for a model input; repeat for several (as rcnn.run)")
    p.add_argument("-p", "--preprocess", type=preprocess_arg, default=None, metavar="SPEC",
                   help="image preprocessing, a preset or a spec (grammar and presets: python -m rcnn.run "
                        "--help); default: the model's rcnn.preprocess metadata")
    p.add_argument("-x", "--execution", type=int, choices=[0, 1, 2], default=0,
                   help="accelerator execution mode for both runs: 0 CPU, 1 output-stationary, 2 weight-stationary")
    add_device_flag(p)
    add_adds_flag(p)
    p.add_argument("--reference", action="store_true",
                   help="also run the model on ONNX Runtime's CPU EP (Python, no accelerator) and compare it with "
                        "the qemu run")
    p.add_argument("--no-partition", action="store_true",
                   help="run the model on ONNX Runtime's CPU EP alone (no Systolic EP) in both runs, instead of "
                        "placing it on the accelerator as rcnn.run does")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="max |a-b| still counted as equal for float tensors (0: bit-exact). fp32 results of the "
                        "host and riscv64 builds may differ by ~1e-6: use e.g. 1e-5 for float models. Integer "
                        "tensors are always compared exactly")
    p.add_argument("--all", action="store_true", help="show every row, not only up to the first divergence")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the report (every row of every comparison) as JSON, atomically (default: none)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent directory of the fresh run directory that receives the exposed model(s), inputs "
                        "and each run's outputs")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads of every run")
    p.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds before a runner is killed")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild the riscv64 runner and library first (rebuilt incrementally by default)")
    return p


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.threads < 1 or a.tolerance < 0:
        p.error("--threads must be >= 1 and --tolerance >= 0")
    for what, path in [("model", a.model), ("image", a.image), *[("input", f) for f in a.input]]:
        if path is not None and not path.is_file():
            p.error(f"{what} not found: {path}")
    if a.image is None and not a.input:
        p.error("give the model's input: -i IMAGE or --input FILE")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    _check_args(parser, a)
    try:
        with fresh_run_dir(a.output_dir, f"{a.model.stem}-compare") as holder:
            opts = CompareOptions(image=a.image, inputs=list(a.input), preprocess=a.preprocess, execution=a.execution,
                                  reference=a.reference, partition=not a.no_partition,
                                  device=a.device, adds=a.adds, tolerance=a.tolerance, threads=a.threads,
                                  timeout=a.timeout, build=not a.no_build)
            comparisons = compare_model(a.model, opts, holder[0], _progress)
        work = holder[0]
        if a.json is not None:
            write_json(a.json, a.model, work, comparisons)
    except RcnnError as e:
        # Not run_cli's exit 1: that status means "a divergence was found" here.
        print(f"rcnn.compare: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    for c in comparisons:
        print(c.title())
        print(format_table(c.rows, a.all))
        print(c.verdict())
        for note in c.notes:
            print(f"   note: {note}")
    print(f"run directory: {work.resolve()}")
    return EXIT_DIVERGED if any(c.first is not None for c in comparisons) else EXIT_SAME


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.compare", main))
