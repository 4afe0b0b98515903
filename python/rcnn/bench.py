"""python -m rcnn.bench: the same int8 model on ONNX Runtime's CPU EP and on the systolic accelerator, natively and
under qemu-riscv64, side by side in one invocation; prints medians and the ratios that matter.

Ratios (each from runs made here, minutes apart at most):
  qemu speed-up      ORT CPU EP under qemu / systolic under qemu     (how much the accelerator model saves a user)
  qemu overhead      systolic under qemu / systolic native           (what emulation costs)
  native speed-up    ORT CPU EP native / systolic native
Without MODEL it builds a ResNet-style int8 model (stem, residual blocks, global pool, matmul head; 224x224).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rcnn.cli import ArgumentParser, HelpFormatter, run_cli
from rcnn.errors import RcnnError
from rcnn.onnx_model import read_model_info
from rcnn.partition import partition_file
from rcnn.runner import RunConfig, run, runner_command, systolic_library
from rcnn.tensors import save_tensor

TARGETS = ("native", "qemu")


@dataclass(frozen=True)
class Case:
    target: str  # native | qemu
    engine: str  # ort-cpu | systolic
    mode: int  # -x (systolic only)

    @property
    def label(self) -> str:
        return f"{self.target:<6} {self.engine}" + (f" -x {self.mode}" if self.engine == "systolic" else "")


def default_model(directory: Path) -> Path:
    from rcnn.testnets import quantize_qoperator, resnet_float

    path = directory / "resnet_int8.onnx"
    import onnx

    onnx.save(quantize_qoperator(resnet_float()), str(path))
    return path


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


def measure(case: Case, model: Path, partitioned: Path, inputs: list[Path], repeat: int, threads: int,
            work: Path) -> tuple[float, dict[str, np.ndarray]]:
    native = case.target == "native"
    systolic = case.engine == "systolic"
    config = RunConfig(native=native, execution=case.mode, threads=threads, repeat=repeat, echo=False, build=False,
                       custom_op_libs=[systolic_library(native, build_it=False)] if systolic else [])
    out = Path(tempfile.mkdtemp(dir=work))
    result = run(partitioned if systolic else model, inputs, out, config)
    times = result.report["timings_ms"]["inference"]
    # The first inference pays one-time costs (weight packing, allocations): leave it out when there are others.
    return statistics.median(times[1:] if len(times) > 1 else times), result.outputs


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.bench", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("model", nargs="?", type=Path, default=None,
                   help="int8 QOperator ONNX model (default: a ResNet-style int8 model built on the fly)")
    p.add_argument("-r", "--repeat", type=int, default=5, help="inferences per case (the first is not counted)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads, for ORT and the accelerator alike")
    p.add_argument("--targets", default="native,qemu", help="comma-separated: native, qemu")
    p.add_argument("-x", "--modes", default="0,1,2", help="accelerator modes to run (0 CPU, 1 OS, 2 WS)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    targets = [t for t in a.targets.split(",") if t]
    if not set(targets) <= set(TARGETS) or a.repeat < 1 or a.threads < 1:
        build_parser().error("--targets takes native and/or qemu; --repeat and --threads must be >= 1")
    modes = [int(m) for m in a.modes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="rcnn-bench-") as tmp:
        work = Path(tmp)
        model = a.model or default_model(work)
        part = partition_file(model)
        print(f"model: {model.name}; placement: {part.report.placed} of {len(part.report.nodes)} nodes, "
              f"{100 * (part.report.mac_share or 0):.1f} % of MACs on the accelerator")
        inputs = random_inputs(model, work)
        for native in {t == "native" for t in targets}:  # build once, before the clock runs
            runner_command(RunConfig(native=native))
            systolic_library(native)
        cases = [Case(t, "ort-cpu", 0) for t in targets] + [Case(t, "systolic", m) for t in targets for m in modes]
        medians: dict[Case, float] = {}
        outputs: dict[Case, dict[str, np.ndarray]] = {}
        for case in tqdm(cases, desc="bench", unit="case"):
            medians[case], outputs[case] = measure(case, model, part.model_path, inputs, a.repeat, a.threads, work)
    print(f"\nmedian inference time ({a.repeat} runs, first excluded when more than one; {a.threads} thread(s))")
    for case, ms in medians.items():
        print(f"  {case.label:<26} {ms:10.2f} ms")
    report_ratios(medians, targets, modes)
    report_identity(outputs)
    return 0


def report_ratios(medians: dict[Case, float], targets: list[str], modes: list[int]) -> None:
    print("\nratios")
    for m in modes:
        def get(target: str, engine: str, mode: int = m) -> float | None:
            return medians.get(Case(target, engine, mode if engine == "systolic" else 0))

        pairs = [("qemu speed-up (ORT CPU / systolic, under qemu)", get("qemu", "ort-cpu"), get("qemu", "systolic")),
                 ("qemu overhead (systolic qemu / native)", get("qemu", "systolic"), get("native", "systolic")),
                 ("native speed-up (ORT CPU / systolic)", get("native", "ort-cpu"), get("native", "systolic"))]
        for name, num, den in pairs:
            if num is not None and den:
                print(f"  -x {m}  {name:<48} {num / den:6.2f}x")


def report_identity(outputs: dict[Case, dict[str, np.ndarray]]) -> None:
    systolic = [c for c in outputs if c.engine == "systolic"]
    if len(systolic) < 2:
        return
    first = outputs[systolic[0]]
    same = all(all(np.array_equal(first[k], outputs[c][k]) for k in first) for c in systolic[1:])
    print(f"\nsystolic outputs bit-identical across {len(systolic)} runs (targets x modes): {same}")


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.bench", main))
