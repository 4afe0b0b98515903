"""python -m rcnn.native: run a model on the host's stock ONNX Runtime CPU EP (Python onnxruntime), no accelerator.

The reference for FP32 and uint8/int8 models (the seed's ort_native.py): the same input preparation as rcnn.run
(image with -p, or --input tensor files) and the same run directory as ort_test writes (input_K.pb, output_K.pb,
outputs.json with model, ort_version, execution (null: no accelerator), graph_optimization_level, threads,
preprocess, inputs, outputs, timings_ms), so rcnn.runner.read_outputs reads it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.inputs import prepare_inputs
from rcnn.onnx_model import read_model_info
from rcnn.preprocess import ALIASES, MODES
from rcnn.rundir import fresh_run_dir
from rcnn.tensors import load_tensor, save_tensor

LEVELS = {0: "ORT_DISABLE_ALL", 1: "ORT_ENABLE_BASIC", 2: "ORT_ENABLE_EXTENDED", 99: "ORT_ENABLE_ALL"}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.native", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-m", "--model", type=Path, required=True, help="ONNX model to run")
    p.add_argument("-i", "--image", type=Path, default=None, help="image file for the model's first input, "
                   "preprocessed by -p")
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="a tensor file (.pb or .npy) for a model input; repeat for several (as rcnn.run)")
    p.add_argument("-p", "--preprocess", choices=[*MODES, *ALIASES], default=None,
                   help="image preprocessing (as rcnn.run); default: the model's rcnn.preprocess metadata")
    p.add_argument("-O", dest="opt_level", type=int, choices=sorted(LEVELS), default=99,
                   help="ONNX Runtime graph optimization level (0 none, 1 basic, 2 extended, 99 all)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("-r", "--repeat", type=int, default=1, help="run inference this many times (times: min, median)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("runs"),
                   help="parent directory of the fresh run directory that receives inputs and outputs")
    return p


def _session(model: Path, opt_level: int, threads: int) -> object:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[opt_level])
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own Fail/InvalidGraph/... types
        raise RcnnError(f"ONNX Runtime cannot load {model}: {str(e).strip().splitlines()[0]}") from None


def run_native(model: Path, inputs: list[Path], opt_level: int = 99, threads: int = 1,
               repeat: int = 1) -> tuple[list[tuple[str, np.ndarray]], dict]:
    """Outputs (name, array) in the model's order, and the timings_ms block."""
    start = time.perf_counter()
    session = _session(model, opt_level, threads)
    create_ms = (time.perf_counter() - start) * 1e3
    feeds = {i.name: load_tensor(f)[0] for i, f in zip(session.get_inputs(), inputs, strict=True)}
    names = [o.name for o in session.get_outputs()]
    times: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        try:
            arrays = session.run(names, feeds)
        except Exception as e:
            raise RcnnError(f"inference failed: {str(e).strip().splitlines()[0]}") from None
        times.append((time.perf_counter() - t) * 1e3)
    timings = {"session_create": create_ms, "inference": times, "inference_min": min(times),
               "inference_median": statistics.median(times)}
    return list(zip(names, arrays, strict=True)), timings


def _describe(name: str, array: np.ndarray) -> dict:
    return {"name": name, "dtype": str(array.dtype), "shape": list(array.shape)}


def write_report(work: Path, model: Path, mode: str | None, opt_level: int, threads: int, inputs: list[Path],
                 outputs: list[tuple[str, np.ndarray]], timings: dict) -> None:
    import onnxruntime as ort

    fed = []
    for f in inputs:
        array, name = load_tensor(f)  # prepare_inputs names each file after its input
        fed.append({**_describe(name or f.stem, array), "source": f"file:{f}"})
    described = []
    for k, (name, array) in enumerate(outputs):
        save_tensor(array, work / f"output_{k}.pb", name)
        described.append({**_describe(name, array), "file": f"output_{k}.pb"})
    report = {"model": str(model), "ort_version": ort.__version__, "execution": None,
              "graph_optimization_level": opt_level, "threads": threads, "preprocess": mode, "inputs": fed,
              "outputs": described, "timings_ms": timings}
    atomic_write(work / "outputs.json", (json.dumps(report, indent=2) + "\n").encode())


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
