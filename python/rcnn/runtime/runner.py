"""Run ort_test on a model: under qemu-riscv64 with the sysroot (the emulated target) or natively on the host.

This is the pipeline layer the CLIs call; it knows the runner's flags and output format (outputs.json and one
TensorProto file per output) and nothing of argparse.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import functools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from rcnn import paths
from rcnn.errors import RcnnError
from rcnn.runtime import build
from rcnn.runtime.bundle import RunnerFiles
from rcnn.runtime.tensors import load_tensor

# ORT 1.21 as Debian links it registers ONNX schemas twice and says so ~570 times on stderr; nothing is wrong.
NOISE_PREFIXES = ("Schema error: Trying to register schema",)
# Session config of runs without the accelerator (rcnn.run --partition off, ORT's CPU EP alone). ORT's
# WeightBiasQuantization (one of the QDQ transformers, level >= 1) rewrites a float Conv that reads a
# DequantizeLinear output to use int8-quantized weights: the float prediction layers of our detectors came out 0.5 %
# off under qemu's ORT 1.21 (ORT 1.31 on the host leaves them alone). Runs with the Systolic EP cannot use it: it
# folds the QDQ units' weights into float initializers before the EP sees them (rcnn.tools.runmodel).
DEFAULT_SESSION_CONFIG = {"session.disable_quant_qdq": "1"}


@dataclass
class RunConfig:
    native: bool = False  # host build on the host's ORT instead of riscv64 under qemu
    execution: int = 0  # 0 CPU, 1 OS, 2 WS (the accelerator's dataflow modes)
    opt_level: int = 99
    log_severity: int = 3
    threads: int = 1
    repeat: int = 1
    trace: str | None = None
    save_optimized: Path | None = None
    custom_op_libs: list[Path] = field(default_factory=list)  # a user's own custom-op libraries to register
    ep_lib: Path | None = None  # the Systolic plugin EP library to register (ort_test --ep-lib)
    systolic_config: Path | None = None  # accelerator config file (default: the library's built-in one)
    dim: int | None = None  # systolic array size override
    # Where the EP's OS/WS ops run: "guest" = in ort_test's process (under qemu: emulated RISC-V code), "host" = in
    # rcnn_device, the native device process ort_test is started under (ep/device). -x 0 always runs in ort_test.
    device: str = "guest"
    adds: str = "accelerator"  # where residual adds run: the accelerator's resadd, or "cpu" (ORT's QLinearAdd)
    timeout: float = 1800.0
    qemu_cpu: str | None = None
    session_config: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SESSION_CONFIG))
    build: bool = True  # rebuild the riscv64 runner incrementally before running
    files: RunnerFiles | None = None  # the programs to run (an unpacked bundle); None: this machine's build
    echo: bool = True  # stream the runner's stdout to ours


@dataclass
class RunResult:
    outputs: dict[str, np.ndarray]
    report: dict  # outputs.json as written by ort_test
    out_dir: Path
    command: list[str]
    stdout: str
    wall_s: float


def systolic_ep_library(native: bool, build_it: bool = True) -> Path:
    """The Systolic plugin EP library for the target: host build, or riscv64 (rebuilt incrementally)."""
    return build.ensure_host_ep_library() if native else build.ensure_riscv64_ep_library(build=build_it)


DEVICES = ("auto", "guest", "host")


def add_device_flag(p: argparse.ArgumentParser) -> None:
    """--device, the same for every CLI that runs the accelerator."""
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the accelerator's arithmetic runs in -x 1/-x 2: guest = in ort_test's process (under "
                        "qemu: emulated RISC-V code, slow), host = in rcnn_device, a native device process beside "
                        "qemu that the EP drives through shared memory (as Gemmini's Spike runs the accelerator's "
                        "functional model natively); identical integers and counters either way. -x 0 (the RISC-V "
                        "core computing) always runs in ort_test. Default auto: host under qemu, guest with --native")


ADDS = ("accelerator", "cpu")


def add_adds_flag(p: argparse.ArgumentParser) -> None:
    """--adds, the same for every CLI that runs the accelerator."""
    p.add_argument("--adds", choices=ADDS, default="accelerator",
                   help="where the model's residual adds run: accelerator = the accelerator's resadd (Gemmini's "
                        "double rounding, within 1 LSB of ONNX Runtime's QLinearAdd on part of the elements), cpu = "
                        "ONNX Runtime's QLinearAdd on the CPU EP, so the integers equal ORT's CPU EP wherever the "
                        "other units do (default: accelerator)")


def resolve_device(choice: str, native: bool) -> str:
    return ("guest" if native else "host") if choice == "auto" else choice


def uses_device(config: RunConfig) -> bool:
    """Whether the run starts the device process: device host, the EP attached, an OS/WS mode."""
    return config.device == "host" and config.ep_lib is not None and config.execution != 0


def runner_command(config: RunConfig) -> list[str]:
    """The command prefix that starts ort_test: qemu-riscv64 with the sysroot, or the host binary; under the device
    process (rcnn_device ... --) in device mode, which serves the EP and exits with ort_test's status."""
    files = config.files
    launcher = []
    if uses_device(config):
        device = files.device if files and files.device else build.ensure_device()
        launcher = [str(device), "--threads", str(config.threads), "--"]
    if config.native:
        return [*launcher, str(files.ort_test if files else build.ensure_host_runner())]
    binary = files.ort_test if files else build.ensure_riscv64_runner(build=config.build)
    cmd = ["qemu-riscv64", "-L", str(files.sysroot if files and files.sysroot else paths.sysroot())]
    if config.qemu_cpu:
        cmd += ["-cpu", config.qemu_cpu]
    return [*launcher, *cmd, str(binary)]


def ort_test_args(config: RunConfig, model: Path, inputs: Iterable[Path], out_dir: Path) -> list[str]:
    args = ["-m", str(model), "-x", str(config.execution), "-O", str(config.opt_level),
            "-d", str(config.log_severity), "--threads", str(config.threads), "-r", str(config.repeat),
            "-o", str(out_dir)]
    for f in inputs:
        args += ["--input", str(f)]
    if config.trace:
        args += ["-t", config.trace]
    if config.save_optimized:
        args += ["-s", str(config.save_optimized)]
    for lib in config.custom_op_libs:
        args += ["--custom-op-lib", str(lib)]
    if config.ep_lib:
        args += ["--ep-lib", str(config.ep_lib)]
    if config.systolic_config:
        args += ["--systolic-config", str(config.systolic_config)]
    if config.dim:
        args += ["--dim", str(config.dim)]
    if uses_device(config):
        args += ["--device", "host"]
    if config.ep_lib and config.adds != "accelerator":
        args += ["--adds", config.adds]
    for key, value in config.session_config.items():
        args += ["--session-config", f"{key}={value}"]
    return args


def _pump(stream: IO[str], sink: list[str], echo_to: IO[str] | None, drop: tuple[str, ...] = ()) -> None:
    for line in stream:
        if drop and (line.startswith(drop) or not line.strip()):
            continue
        sink.append(line)
        if echo_to is not None:
            echo_to.write(line)
            echo_to.flush()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork: the child only calls it


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: the kernel sends SIGKILL when the parent dies, however it dies (even SIGKILL,
    which no `finally` survives). qemu-user keeps the setting across exec; the getppid check closes the window in
    which the parent died before the prctl."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _execute(cmd: list[str], timeout: float, echo: bool) -> tuple[int, str, str]:
    """Run cmd in its own process group, which is killed on every way out: timeout, Ctrl-C, SIGTERM (raised as
    rcnn.cli.Terminated), any error; and by the kernel when this process is SIGKILLed. Returns (code, stdout,
    filtered stderr)."""
    if not math.isfinite(timeout) or timeout <= 0:
        raise RcnnError(f"the run's timeout must be a finite number of seconds > 0, not {timeout!r}")
    env = dict(os.environ)
    # The riscv64 guest's ld.so would otherwise read the host's x86 ld.so.cache paths; -L already roots it.
    env.pop("LD_LIBRARY_PATH", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True, env=env,
                            preexec_fn=functools.partial(_die_with_parent, os.getpid()))
    out: list[str] = []
    err: list[str] = []
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, out, sys.stdout if echo else None), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, None, NOISE_PREFIXES), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        msg = f"the run exceeded its timeout of {timeout:g} s and was killed (raise it with --timeout)"
        raise RcnnError(msg) from None
    finally:
        if proc.returncode is None:  # interrupted or terminated while waiting: the runner must not outlive us
            _kill_group(proc)
        for t in threads:
            t.join(timeout=5)
    return code, "".join(out), "".join(err)


def _failure_message(code: int, stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    own = [ln for ln in lines if ln.startswith("ort_test: error:")]
    if own:
        return own[-1]
    if code < 0:
        return f"ort_test died with signal {signal.Signals(-code).name}" + (f": {lines[-1]}" if lines else "")
    return f"ort_test exited with status {code}" + (f": {lines[-1]}" if lines else "")


def read_outputs(out_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """outputs.json and the output arrays (by name, in the model's order) that ort_test wrote to out_dir."""
    report = json.loads((out_dir / "outputs.json").read_text())
    arrays = {o["name"]: load_tensor(out_dir / o["file"])[0] for o in report["outputs"]}
    return report, arrays


# Debian's riscv64 ONNX Runtime (1.23) fuses DequantizeLinear -> Mul -> QuantizeLinear with a per-channel quantized
# constant into a QLinearMul that its own schema then refuses, and the session fails. Without its QDQ fusions the
# same nodes run as DequantizeLinear -> float op -> QuantizeLinear (what quantize_static's QDQ format means), so
# such a run is retried once that way, and says so.
QDQ_FUSION_REFUSED = "[TypeInferenceError] Scale and Zero-point must be a scalar"
QDQ_FUSION_OFF = ("optimization.disable_specified_optimizers", "QDQSelectorActionTransformer")


def run(model: Path, inputs: list[Path], out_dir: Path, config: RunConfig) -> RunResult:
    """Run ort_test on `model` with TensorProto `inputs`; its outputs land in `out_dir` (which must exist)."""
    cmd = [*runner_command(config), *ort_test_args(config, model, inputs, out_dir)]
    start = time.perf_counter()
    code, stdout, stderr = _execute(cmd, config.timeout, config.echo)
    if code != 0 and QDQ_FUSION_REFUSED in stderr and QDQ_FUSION_OFF[0] not in config.session_config:
        note = (f"note: ONNX Runtime refused a QLinear node its own QDQ fusion made ({stderr.strip().splitlines()[-1]}"
                f"); ran again with --session-config {QDQ_FUSION_OFF[0]}={QDQ_FUSION_OFF[1]}\n")
        sys.stderr.write(note)
        retry = dataclasses.replace(config, session_config={**config.session_config,
                                                             QDQ_FUSION_OFF[0]: QDQ_FUSION_OFF[1]})
        cmd = [*runner_command(retry), *ort_test_args(retry, model, inputs, out_dir)]
        code, stdout, stderr = _execute(cmd, config.timeout, config.echo)
        stdout = note + stdout
    wall = time.perf_counter() - start
    if stderr.strip() and code == 0:
        sys.stderr.write(stderr)
    if code != 0:
        raise RcnnError(_failure_message(code, stderr))
    report, arrays = read_outputs(out_dir)
    return RunResult(arrays, report, out_dir, cmd, stdout, wall)
