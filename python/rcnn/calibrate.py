"""python -m rcnn.calibrate: calibrate and quantize a float ONNX model (the seed's calibrate.py).

One quantize_static call in QOperator format: --mode=int8 (or int) gives symmetric int8 with zero points 0 (what
the accelerator needs), --mode=uint8 asymmetric uint8. Op types come from the project table in rcnn.quant.ops.
In int8 mode an exact post-pass then sinks DequantizeLinear past Relu/MaxPool/Flatten/Reshape and removes matched
DequantizeLinear->QuantizeLinear pairs, so conv->relu chains stay int8 (bit-identical output on ORT CPU).

Detection models (with NonMaxSuppression/RoiAlign/MaxRoiPool/TopK): only the dense network is quantized (backbone,
FPN, RPN head, box and mask heads); box decoding, NMS, RoiAlign and mask pasting stay float; see --include-nodes.
Calibration data: DATASET/test_data_set_N/input_K.pb (N in numeric order, K = model input position) or
DATASET/input_K.pb for one sample; --data_preprocess turns raw 0..255 pixel tensors into the model's normalisation.
Temporary and augmented models go to a temp dir, never to the current directory.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli, strict_bool
from rcnn.files import atomic_write
from rcnn.onnxgraph.gate import load_model
from rcnn.quant.data import DATA_PREPROCESS, ZooDataReader
from rcnn.quant.quantize import CALIBRATE_METHODS, MODES, QuantizeOptions, quantize_model
from rcnn.runtime.preprocess import preprocess_arg


def _data_preprocess(text: str) -> str:
    """argparse type: the seed's names as they are, anything else must be a preprocess preset or spec."""
    return text if text in DATA_PREPROCESS else preprocess_arg(text)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.calibrate", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model_path", type=Path, required=True, help="float model (normally rcnn.optimize's output)")
    p.add_argument("--dataset_path", type=Path, required=True,
                   help="calibration data: test_data_set_N/input_K.pb folders (or input_K.pb directly)")
    p.add_argument("--output_model_path", type=Path, default=None,
                   help="quantized model to write (atomically); default: calibrated_quantized_model.onnx next to "
                        "the input model (the seed wrote it to the current directory)")
    p.add_argument("--static", type=strict_bool, required=True, metavar="BOOL",
                   help="true: static quantization with calibrated ranges (the only mode offered; false is refused, "
                        "ORT has no int8 zero-point-0 dynamic mode)")
    p.add_argument("--data_preprocess", type=_data_preprocess, required=True, metavar="MODE",
                   help="normalisation applied to each raw 0..255 RGB tensor: rcnn (BGR minus Detectron means, CHW), "
                        "torchvision (/255, NCHW), caffe2, caffe, mxnet (NCHW), None (as stored), or any other "
                        "rcnn.preprocess preset or spec (NCHW; grammar and presets: python -m rcnn.run --help)")
    p.add_argument("--mode", choices=list(MODES), default="int8",
                   help="int8 (= int): symmetric activations and weights, zero points 0; u8s8: asymmetric uint8 "
                        "activations, symmetric int8 weights (often more accurate; the accelerator takes it whole); "
                        "uint8: asymmetric activations and weights (the seed's; the accelerator declines convs whose "
                        "weights minus zero point leave int8) (default: int8)")
    p.add_argument("--dataset_size", type=int, default=0, help="number of samples to use (first N in order); 0 = all")
    p.add_argument("--per_channel", type=strict_bool, nargs="?", const=True, default=None, metavar="BOOL",
                   help="per-output-channel weight scales (a bare switch, or =true/false). Default: on for models "
                        "with depthwise convs, whose channels' weight ranges differ the most, off otherwise")
    p.add_argument("--calibrate_method", choices=CALIBRATE_METHODS, default="minmax",
                   help="how activation ranges are taken from the samples (minmax = the seed's 'naive')")
    p.add_argument("--moving-average", action=argparse.BooleanOptionalAction, default=False,
                   help="minmax: average each tensor's per-sample min/max instead of taking the extremes over all "
                        "samples (ORT's CalibMovingAverage; tighter ranges, better with more samples)")
    p.add_argument("--quantize-predictions", action=argparse.BooleanOptionalAction, default=False,
                   help="detection models: quantize the prediction layers too (the last Conv/MatMuls before the "
                        "float post-processing; kept float by default for accuracy)")
    p.add_argument("--quantize-add", action=argparse.BooleanOptionalAction, default=None,
                   help="turn every Add into QLinearAdd (--no-quantize-add: none, the seed's 'comment out QLinearAdd "
                        "in registry.py'). Default: target-aware, only residual adds (two activations of one shape, "
                        "the accelerator's resadd); adds with a constant or broadcast input stay float")
    p.add_argument("--quantize-mul", action=argparse.BooleanOptionalAction, default=None,
                   help="turn every Mul into QLinearMul (--no-quantize-mul: none). Default: target-aware, none (the "
                        "accelerator has no multiply; ORT's QLinearMul on the CPU is slower than a float Mul)")
    p.add_argument("--exclude-nodes", nargs="+", default=[], metavar="PATTERN",
                   help="node-name glob patterns (fnmatch) to keep float; wins over --include-nodes")
    p.add_argument("--include-nodes", nargs="+", default=[], metavar="PATTERN",
                   help="node-name glob patterns to quantize even though the detection rule (only the dense "
                        "network of a detector is quantized) would keep them float")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if not a.static:
        p.error("--static=false is not supported: ORT has no dynamic mode with int8 zero-point-0 QLinear ops")
    if a.dataset_size < 0:
        p.error("--dataset_size must be >= 0")
    model = load_model(a.model_path)
    if a.output_model_path is None:
        a.output_model_path = a.model_path.parent / "calibrated_quantized_model.onnx"
    reader = ZooDataReader(model, a.dataset_path, a.data_preprocess, a.dataset_size, progress=not a.quiet)
    opts = QuantizeOptions(mode=a.mode, per_channel=a.per_channel, calibrate_method=a.calibrate_method,
                           moving_average=a.moving_average, float_predictions=not a.quantize_predictions,
                           quantize_add=a.quantize_add, quantize_mul=a.quantize_mul, exclude_nodes=a.exclude_nodes,
                           include_nodes=a.include_nodes)
    quant, report = quantize_model(model, reader, opts)
    atomic_write(a.output_model_path, quant.SerializeToString())
    for note in report.notes or []:
        print(f"  {note}")
    print(f"  op types: {', '.join(report.op_types)}")
    if report.float_by_rule:
        print(f"  kept float by the detection rule: {len(report.float_by_rule)} node(s)")
    if report.excluded:
        print(f"  excluded: {len(report.excluded)} node(s)")
    if MODES[opts.mode] == "int8":
        print(f"  int8 post-pass: {report.dq_moved} DequantizeLinear moved, {report.pairs_removed} pair(s) removed")
    print(f"wrote {a.output_model_path} ({len(reader)} calibration sample(s), mode {MODES[opts.mode]})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.calibrate", main))
