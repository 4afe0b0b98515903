"""python -m rcnn.partition: place a quantized model's nodes on the systolic accelerator (our GetCapability).

Reads a QOperator-format ONNX model and rewrites every node the accelerator can run as an `rcnn.systolic` op
(QConv, QMatMul, QAdd; Conv, MatMul with --elem fp32; see ep/ort/README.md), fusing a following Relu and, after a
conv, a MaxPool. Everything else stays as it was, for ONNX Runtime's CPU EP. Feature maps stay NHWC between systolic
ops; Transposes are inserted only where a tensor crosses to the CPU or the graph's interface (at most one per tensor
and direction). The model's inputs and outputs keep their names, types and shapes.

Prints the placement report: every node's placement, the reason a candidate was declined, fusions, inserted
transposes and the share of multiply-accumulates on the accelerator. Results are cached by the model's bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.accelerator.partition import ELEMS, NothingToPlace, partition_file, write_output
from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.errors import RcnnError


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.partition", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("model", type=Path, metavar="MODEL", help="QOperator-quantized ONNX model (or float, --elem fp32)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="OUT.onnx",
                   help="where to write the partitioned model; None: only into the cache (the path is printed)")
    p.add_argument("--report", type=Path, default=None, metavar="REPORT.json",
                   help="also write the placement report as JSON; None: not written")
    p.add_argument("--elem", choices=ELEMS, default="int8",
                   help="accelerator element type: int8 places QLinearConv/QLinearMatMul/QLinearAdd, fp32 places "
                        "float Conv/MatMul/Gemm")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the cache (${XDG_CACHE_HOME:-~/.cache}/rcnn/partition)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        result = partition_file(a.model, a.output, elem=a.elem, use_cache=not a.no_cache)
    except NothingToPlace as e:
        other = "int8" if a.elem == "fp32" else "fp32"
        hint = "for a quantized model" if a.elem == "fp32" else "for a float model, or quantize it first"
        raise RcnnError(f"{e}; use --elem {other} {hint}") from None
    if a.report is not None:
        write_output(a.report, result.report.to_json().encode())
    if a.json:
        print(result.report.to_json(), end="")
    else:
        print(result.report.format_table())
        print(f"partitioned model: {result.model_path}" if result.model_path else
              "partitioned model not written (--no-cache without -o)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.partition", main))
