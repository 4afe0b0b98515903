"""The library of python -m rcnn.bench: the same int8 model on ONNX Runtime's CPU EP and on the systolic
accelerator, natively and under qemu-riscv64, side by side in one invocation; medians and the ratios that matter.

Under qemu, -x 1 and -x 2 run twice: with the arithmetic in the emulated guest and in the native device process
(device mode, ep/device). Ratios (each from runs made here, minutes apart at most):
  qemu speed-up      ORT CPU EP under qemu / systolic under qemu     (how much the accelerator model saves a user)
  qemu overhead      systolic under qemu / systolic native           (what emulation costs)
  native speed-up    ORT CPU EP native / systolic native
Without MODEL it builds its built-in models (--builtin): a ResNet-style int8 model (stem, residual blocks, global
pool, matmul head; 224x224) and a MobileNetV3 one (torchvision's mobilenet_v3_small, seeded random weights: depthwise
convs, hard-swish, squeeze-and-excitation), quantized by rcnn.calibrate's defaults (target-aware elementwise ops).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rcnn.accelerator.placement import PlacementReport
from rcnn.errors import RcnnError
from rcnn.onnxgraph.model_info import read_model_info
from rcnn.runtime.runner import RunConfig, run, runner_command, systolic_ep_library
from rcnn.runtime.tensors import save_tensor

TARGETS = ("native", "qemu")


@dataclass(frozen=True)
class Case:
    target: str  # native | qemu
    engine: str  # ort-cpu | systolic
    mode: int  # -x (systolic only)
    device: str = "guest"  # systolic under qemu, -x 1/2: "host" = the arithmetic in the native device process

    @property
    def label(self) -> str:
        return (f"{self.target:<6} {self.engine}" + (f" -x {self.mode}" if self.engine == "systolic" else "")
                + (" host device" if self.device == "host" else ""))


BUILTIN = ("resnet", "mobilenet")


def resnet_model(directory: Path) -> Path:
    import onnx

    from rcnn.models.testnets import quantize_qoperator, resnet_float

    path = directory / "resnet_int8.onnx"
    onnx.save(quantize_qoperator(resnet_float()), str(path))
    return path


def mobilenet_model(directory: Path, samples: int = 4, seed: int = 0) -> Path:
    """mobilenet_v3_small (10 classes, seeded random weights), exported, optimized (--replace_gemm) and calibrated
    as a user's flow does it (rcnn.calibrate's defaults) on `samples` random 0..255 images."""
    from rcnn.models.export import build_model, export_model
    from rcnn.onnxgraph import gate
    from rcnn.quant.data import ZooDataReader
    from rcnn.quant.prepare import optimize
    from rcnn.quant.quantize import QuantizeOptions, quantize_model

    fp32 = directory / "mobilenet_v3_small_fp32.onnx"
    export_model(build_model("mobilenet_v3_small", 10, None, True, seed), fp32, arch="mobilenet_v3_small", size=224)
    model, _ = optimize(gate.load_model(fp32), gemm=True)
    rng = np.random.default_rng(seed)
    for k in range(samples):
        save_tensor((rng.random((1, 3, 224, 224)) * 255).astype(np.float32),
                    directory / "calib" / f"test_data_set_{k}" / "input_0.pb", "x")
    spec = next(p.value for p in model.metadata_props if p.key == "rcnn.preprocess")
    quant, _ = quantize_model(model, ZooDataReader(model, directory / "calib", spec, progress=False),
                              QuantizeOptions())
    path = directory / "mobilenet_v3_small_int8.onnx"
    path.write_bytes(quant.SerializeToString())
    return path


def builtin_model(kind: str, directory: Path) -> Path:
    if kind not in BUILTIN:
        raise RcnnError(f"unknown built-in model {kind!r}; choose from {', '.join(BUILTIN)}")
    return resnet_model(directory) if kind == "resnet" else mobilenet_model(directory)


def random_inputs(model: Path, directory: Path, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    files = []
    for k, t in enumerate(read_model_info(model).inputs):
        if t.dims is None:
            raise RcnnError(f"input {t.name!r} declares no shape: the bench cannot make random data for it")
        shape = [d or 1 for d in t.dims]
        data = rng.random(shape).astype(t.dtype) if t.dtype.kind == "f" else rng.integers(-128, 128, shape).astype(
            t.dtype)
        files.append(directory / f"input_{k}.pb")
        save_tensor(data, files[-1], t.name)
    return files


@dataclass
class Measured:
    median_ms: float
    outputs: dict[str, np.ndarray]
    ep_report: dict | None  # the Systolic EP's report (accelerator cases)


def measure(case: Case, model: Path, inputs: list[Path], repeat: int, threads: int, work: Path) -> Measured:
    """One case: ORT's CPU EP alone, or the accelerator through the Systolic plugin EP."""
    native = case.target == "native"
    # ONNX Runtime's own defaults for every case (the EP must see QDQ units unfolded, see default_session_config).
    config = RunConfig(native=native, execution=case.mode, threads=threads, repeat=repeat, echo=False, build=False,
                       session_config={}, device=case.device)
    if case.engine == "systolic":
        config.ep_lib = systolic_ep_library(native, build_it=False)
    out = Path(tempfile.mkdtemp(dir=work))
    result = run(model, inputs, out, config)
    times = result.report["timings_ms"]["inference"]
    # The first inference pays one-time costs (weight packing, allocations): leave it out when there are others.
    median = statistics.median(times[1:] if len(times) > 1 else times)
    return Measured(median, result.outputs, result.report.get("systolic_ep"))


@dataclass
class BenchResult:
    model: Path
    placement: PlacementReport | None  # None: no accelerator case ran
    medians: dict[Case, float]  # ms per inference
    identical: bool | None  # every systolic case gave the same outputs (None: fewer than two systolic cases)


def run_bench(model: Path | None, targets: Sequence[str], modes: Sequence[int], repeat: int = 5,
              threads: int = 1, builtin: str = "resnet") -> BenchResult:
    """Every case (ORT CPU EP per target, the accelerator per target and mode through the Systolic plugin EP) on the
    model (default: the built-in model `builtin`, made here); medians with a tqdm progress bar."""
    with tempfile.TemporaryDirectory(prefix="rcnn-bench-") as tmp:
        work = Path(tmp)
        model = model or builtin_model(builtin, work)
        inputs = random_inputs(model, work)
        for native in {t == "native" for t in targets}:  # build once, before the clock runs
            runner_command(RunConfig(native=native))
            systolic_ep_library(native)
        cases = [Case(t, "ort-cpu", 0) for t in targets] + [Case(t, "systolic", m) for t in targets for m in modes]
        cases += [Case("qemu", "systolic", m, "host") for m in modes if m != 0 and "qemu" in targets]
        measured = {case: measure(case, model, inputs, repeat, threads, work)
                    for case in tqdm(cases, desc="bench", unit="case")}
    reports = [m.ep_report for m in measured.values() if m.ep_report is not None]
    placement = PlacementReport.from_ep(reports[0], str(model)) if reports else None
    return BenchResult(model, placement, {c: m.median_ms for c, m in measured.items()},
                       outputs_identical({c: m.outputs for c, m in measured.items()}))


def ratio_lines(medians: dict[Case, float], modes: Sequence[int]) -> list[str]:
    """The ratios that matter, per accelerator mode, where both sides were measured."""
    lines = []
    for m in modes:
        def get(target: str, engine: str, mode: int = m, device: str = "guest") -> float | None:
            return medians.get(Case(target, engine, mode if engine == "systolic" else 0, device))

        pairs = [("qemu speed-up (ORT CPU / systolic, under qemu)", get("qemu", "ort-cpu"), get("qemu", "systolic")),
                 ("qemu overhead (systolic qemu / native)", get("qemu", "systolic"), get("native", "systolic")),
                 ("native speed-up (ORT CPU / systolic)", get("native", "ort-cpu"), get("native", "systolic")),
                 ("qemu speed-up, host device (ORT CPU / systolic)", get("qemu", "ort-cpu"),
                  get("qemu", "systolic", device="host")),
                 ("qemu overhead, host device (qemu / native)", get("qemu", "systolic", device="host"),
                  get("native", "systolic")),
                 ("host device speed-up (systolic in guest / on device)", get("qemu", "systolic"),
                  get("qemu", "systolic", device="host"))]
        for name, num, den in pairs:
            if num is not None and den:
                lines.append(f"  -x {m}  {name:<48} {num / den:6.2f}x")
    return lines


def outputs_identical(outputs: dict[Case, dict[str, np.ndarray]]) -> bool | None:
    systolic = [c for c in outputs if c.engine == "systolic"]
    if len(systolic) < 2:
        return None
    first = outputs[systolic[0]]
    return all(all(np.array_equal(first[k], outputs[c][k]) for k in first) for c in systolic[1:])
