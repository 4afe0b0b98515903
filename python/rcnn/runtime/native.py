"""A model on the host's stock ONNX Runtime CPU EP (Python onnxruntime), no accelerator: the library of rcnn.native.

The reference for FP32 and uint8/int8 models (the seed's ort_native.py): the same input preparation as rcnn.run
(image with -p, or --input tensor files) and the same run directory as ort_test writes (input_K.pb, output_K.pb,
outputs.json with model, ort_version, execution (null: no accelerator), graph_optimization_level, threads,
preprocess, inputs, outputs, timings_ms), so rcnn.runtime.runner.read_outputs reads it.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.runtime.tensors import load_tensor, save_tensor

LEVELS = {0: "ORT_DISABLE_ALL", 1: "ORT_ENABLE_BASIC", 2: "ORT_ENABLE_EXTENDED", 99: "ORT_ENABLE_ALL"}


def make_session(model: Path, opt_level: int, threads: int) -> object:
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
    session = make_session(model, opt_level, threads)
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
