"""python -m rcnn.native: run a model on the host's stock ONNX Runtime CPU EP (Python onnxruntime), no accelerator.

The reference for FP32 and uint8/int8 models (the seed's ort_native.py): the same input preparation as rcnn.run
(image with -p, or --input tensor files) and the same run directory as ort_test writes (input_K.pb, output_K.pb,
outputs.json with model, ort_version, execution (null: no accelerator), graph_optimization_level, threads,
preprocess, inputs, outputs, timings_ms), so rcnn.runtime.runner.read_outputs reads it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.runtime.inputs import prepare_inputs
from rcnn.runtime.native import LEVELS, run_native, write_report
from rcnn.runtime.preprocess import preprocess_arg
from rcnn.runtime.rundir import fresh_run_dir


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.native", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-m", "--model", type=Path, required=True, help="ONNX model to run")
    p.add_argument("-i", "--image", type=Path, default=None, help="image file for the model's first input, "
                   "preprocessed by -p")
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="a tensor file (.pb or .npy) for a model input; repeat for several (as rcnn.run)")
    p.add_argument("-p", "--preprocess", type=preprocess_arg, default=None, metavar="SPEC",
                   help="image preprocessing, a preset or a spec (grammar and presets: python -m rcnn.run "
                        "--help); default: the model's rcnn.preprocess metadata")
    p.add_argument("-O", dest="opt_level", type=int, choices=sorted(LEVELS), default=99,
                   help="ONNX Runtime graph optimization level (0 none, 1 basic, 2 extended, 99 all)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("-r", "--repeat", type=int, default=1, help="run inference this many times (times: min, median)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent directory of the fresh run directory that receives inputs and outputs")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.threads < 1 or a.repeat < 1:
        p.error("--threads and --repeat must be >= 1")
    info = read_model_info(a.model)
    with fresh_run_dir(a.output_dir, f"{a.model.stem}-ort-native") as holder:
        work = holder[0]
        inputs, mode = prepare_inputs(info, a.image, a.input, a.preprocess, work)
        outputs, timings = run_native(info.path, inputs, a.opt_level, a.threads, a.repeat)
        write_report(work, info.path.resolve(), mode, a.opt_level, a.threads, inputs, outputs, timings)
    print(f"== ONNX Runtime CPU EP (host): {len(outputs)} output(s)")
    for name, arr in outputs:
        print(f"  {name:<24} {arr.dtype!s:<8} {list(arr.shape)}")
    print(f"  inference median {timings['inference_median']:.2f} ms; run directory: {holder[0].resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.native", main))
