"""python -m rcnn.optimize: prepare a float ONNX model for quantization (the seed's optimize.py).

Steps, in order: opset raised to 14..22 and IR to >= 7 (version converter; ORT 1.21 reads IR <= 10, opset <= 22,
int8 Relu needs opset 14), graph inputs that shadow initializers removed, unnamed nodes named, ORT's
quant_pre_process (Constants to initializers, BatchNormalization and Conv->Mul->Add folded into Conv, shape
inference), two-input Sum -> Add, and with --replace_gemm: Gemm (alpha=beta=1, transA=0) -> MatMul (+Add).
The Gemm rewrite runs after quant_pre_process, which would fuse MatMul+Add back into Gemm.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli, strict_bool
from rcnn.files import atomic_write
from rcnn.onnxgraph import gate
from rcnn.onnxgraph.graph import opset_of
from rcnn.quant.prepare import optimize


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.optimize", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--input", type=Path, required=True, help="float ONNX model to read")
    p.add_argument("--output", type=Path, required=True, help="where to write the optimized model (atomically)")
    p.add_argument("--replace_gemm", nargs="?", const=True, default=False, type=strict_bool, metavar="BOOL",
                   help="rewrite Gemm (alpha=beta=1, transA=0) as MatMul (+Add) so it quantizes to QLinearMatMul; "
                        "a bare switch, or =true/false")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    model, report = optimize(gate.load_model(a.input), gemm=a.replace_gemm)
    atomic_write(a.output, model.SerializeToString())
    for change in report.changes or ["nothing to change"]:
        print(f"  {change}")
    print(f"wrote {a.output} (IR {model.ir_version}, opset "
          f"{opset_of(model)})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.optimize", main))
