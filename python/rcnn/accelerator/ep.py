"""The Systolic plugin execution provider (librcnn_systolic_ep.so, ep/ort) from Python.

    import rcnn.systolic
    s = rcnn.systolic.session("model.onnx")          # an onnxruntime.InferenceSession with the EP registered
    outputs = s.run(None, feeds); print(rcnn.systolic.report(s)["summary"])

The library is found by `rcnn.paths.host_ep_library()` ($RCNN_EP_LIB, else the copy pip installed into rcnn/lib,
else build/host*/ep/ort) and registered with ONNX Runtime once per process. The report (placement of every
node with the reason when it stays on the CPU EP, MACs, the accelerator's counters and cycle estimate) comes from
the EP itself through the library's C function RcnnSystolicEpReport, reached with ctypes on the same library path
(the same dlopen handle ORT holds). Nothing here imports the C++ build at `import rcnn` time.
"""

from __future__ import annotations

import ctypes
import json
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcnn import paths
from rcnn.errors import RcnnError

if TYPE_CHECKING:  # onnxruntime is imported on first use only
    import onnxruntime

EP_NAME = "SystolicExecutionProvider"
MODES = {"cpu": 0, "os": 1, "ws": 2}
_REPORT_ATTR = "_rcnn_systolic_report_id"

_lock = threading.Lock()
_registered: Path | None = None


def library_path() -> Path:
    """The EP library this process uses (RcnnError with the command that builds it when there is none)."""
    path = paths.host_ep_library()
    if path is None or not path.is_file():
        raise RcnnError(
            f"the Systolic plugin EP library ({paths.EP_LIBRARY}) is not built"
            + (f" at RCNN_EP_LIB={path}" if path else "")
            + f": run {paths.source_root() or '.'}/setup.sh (pip builds it against the sysroot's ONNX Runtime >= 1.23 "
            "headers), or set RCNN_EP_LIB")
    return path


def register() -> Path:
    """Registers the EP library with ONNX Runtime (once per process) and returns its path."""
    global _registered
    import onnxruntime as ort

    with _lock:
        if _registered is None:
            path = library_path()
            ort.register_execution_provider_library(EP_NAME, str(path))
            _registered = path
        return _registered


def ep_device() -> onnxruntime.OrtEpDevice:
    """The OrtEpDevice of the Systolic EP (registers the library first)."""
    import onnxruntime as ort

    register()
    for device in ort.get_ep_devices():
        if device.ep_name == EP_NAME:
            return device
    raise RcnnError(f"{EP_NAME} is registered but ONNX Runtime lists no device for it")


def _execution(mode: str | int) -> str:
    if isinstance(mode, bool):
        raise TypeError("mode must be 'cpu', 'os', 'ws' or 0, 1, 2")
    if isinstance(mode, int):
        return str(mode)  # the EP checks the value (0..2) and says so
    return str(MODES.get(mode.lower(), mode))


def provider_options(mode: str | int = "ws", dim: int | None = None, config: str | Path | None = None,
                     threads: int = 1, **extra: str) -> dict[str, str]:
    """The EP's provider options (ep/ort/README.md). `config` is the text of an accelerator config or a
    Path to one."""
    options = {"execution": _execution(mode), "threads": str(threads)}
    if dim is not None:
        options["dim"] = str(dim)
    if config is not None:
        options["config"] = config.read_text() if isinstance(config, Path) else config
    options.update({k: str(v) for k, v in extra.items()})
    return options


def session(model: str | Path | bytes, mode: str | int = "ws", dim: int | None = None,
            config: str | Path | None = None, threads: int = 1, *,
            sess_options: onnxruntime.SessionOptions | None = None, report_file: str | Path | None = None,
            adds: str = "accelerator", **session_kwargs: Any) -> onnxruntime.InferenceSession:
    """An onnxruntime.InferenceSession on the host with the Systolic EP (the CPU EP runs what it declines).

    mode: "cpu" | "os" | "ws" or 0 | 1 | 2 (the runner's -x); dim: array size override; config: accelerator config
    text (or a Path); threads: the kernels' pool; report_file: also write the report there when the session's EP
    is released; adds: "accelerator" (Gemmini's resadd) or "cpu" (ORT's QLinearAdd, bit-exact against the CPU EP).
    Bad values raise the EP's own message (onnxruntime raises it as an exception, the process goes on).
    """
    import onnxruntime as ort

    device = ep_device()
    so = sess_options if sess_options is not None else ort.SessionOptions()
    if sess_options is None:
        so.log_severity_level = 3
        # As ort_test --threads: ORT's idle intra-op workers must not compete with the EP's own pool.
        so.intra_op_num_threads = threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    report_id = uuid.uuid4().hex
    extra = {"report_id": report_id, "adds": adds}
    if report_file is not None:
        extra["report_file"] = str(report_file)
    so.add_provider_for_devices([device], provider_options(mode, dim, config, threads, **extra))
    source = model if isinstance(model, bytes) else str(model)
    # No silent retry on the CPU EP alone: a bad option must reach the caller as the EP's error.
    session_kwargs.setdefault("enable_fallback", 0)
    sess = ort.InferenceSession(source, sess_options=so, **session_kwargs)
    setattr(sess, _REPORT_ATTR, report_id)
    return sess


def report(session_or_id: onnxruntime.InferenceSession | str | None = None) -> dict[str, Any]:
    """The EP's report of a session made by session() (or of a report_id; None: the latest EP of the process)."""
    if session_or_id is None or isinstance(session_or_id, str):
        report_id = session_or_id or ""
    else:
        report_id = getattr(session_or_id, _REPORT_ATTR, None)
        if report_id is None:
            raise RcnnError("this session was not made by rcnn.systolic.session(): pass its report_id option, or "
                            "None for the latest EP, or read the report_file option's file")
    lib = ctypes.CDLL(str(register()))
    fn = lib.RcnnSystolicEpReport
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    fn.restype = ctypes.c_int
    key = report_id.encode()
    n = fn(key, None, 0)
    if n < 0:
        raise RcnnError(f"no Systolic EP report for id {report_id!r}" if n == -1 else "the EP's report failed")
    buf = ctypes.create_string_buffer(n + 1)
    fn(key, buf, n + 1)
    result: dict[str, Any] = json.loads(buf.value.decode())
    return result
