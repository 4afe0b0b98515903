"""The accelerator model from Python: its config file and its ops (rcnn._systolic, built from ep/systolic, imported
on first use).

The config lives in one file, ep/systolic/accelerator.toml (installed as rcnn/data/accelerator.toml); the C++ side
parses the same text. Ops take NumPy arrays and return (result, counters).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

import rcnn
from rcnn import paths
from rcnn.errors import RcnnError


class ExtensionMissing(RcnnError, ImportError):
    """rcnn._systolic is not built: an ImportError for Python callers, a one-line error (exit 1) for the CLIs."""


@functools.cache
def _ext() -> Any:
    """The compiled accelerator model, imported on first use so that `import rcnn` needs no C++ build."""
    try:
        from rcnn import _systolic
    except ImportError as e:  # the host build did not run
        raise ExtensionMissing(f"rcnn._systolic is not built ({e}): run pip install -e . (setup.sh does it)") from None
    return _systolic

Counters = dict[str, int]
MODES = ("cpu", "os", "ws")
# The runner's -x flag: 0 CPU, 1 output-stationary, 2 weight-stationary.
RUNNER_FLAG_MODES = dict(enumerate(MODES))


def config_path(fp32: bool = False) -> Path:
    """The accelerator config file the package ships (the source tree's copy in an editable install)."""
    name = "accelerator_fp32.toml" if fp32 else "accelerator.toml"
    root = paths.source_root()
    candidates = [root / "ep" / "systolic" / name] if root else []
    candidates += [Path(p) / "data" / name for p in rcnn.__path__]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise RcnnError(f"accelerator config {name} not found (looked in {', '.join(map(str, candidates))})")
    return found


def read_config(path: str | Path | None = None, dim: int | None = None) -> dict[str, Any]:
    """The config as the C++ side sees it (validated there), with an optional dim override."""
    path = Path(path) if path else config_path()
    try:
        text = path.read_text()
        tomllib.loads(text)  # the file must be valid TOML for every reader, not only for our subset parser
        values = _ext().parse_config(text)
    except (OSError, tomllib.TOMLDecodeError, ValueError) as e:
        raise RcnnError(f"bad accelerator config {path}: {e}") from None
    if dim is not None:
        values = _ext().parse_config(config_text({**values, "dim": dim}))
    return values


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v).replace("'", '"')


def config_text(values: dict[str, Any]) -> str:
    """Config values back to the TOML subset both sides read."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def _multipliers(m: Any) -> np.ndarray | None:
    return None if m is None else np.ascontiguousarray(m, dtype=np.float32)


def matmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None = None, multiplier: float = 1.0,
           relu: bool = False, mode: str = "cpu", config: dict[str, Any] | None = None,
           threads: int = 1, multipliers: np.ndarray | None = None, x_zero_point: int = 0,
           y_zero_point: int = 0) -> tuple[np.ndarray, Counters]:
    """int8 C = clamp(rne((bias + (A - x_zp)@B) * m[j]) + y_zp) [ReLU at y_zp], m = multipliers (one per column) or
    multiplier; zero points in the int8 domain (uint8 data: shift by 128). float A/B run the fp32 path."""
    text = config_text(config) if config else None
    if a.dtype == np.float32:
        return _ext().matmul_f32(a, b, bias, multiplier, relu, mode, text, threads)
    return _ext().matmul(a, b, bias, multiplier, relu, mode, text, threads, _multipliers(multipliers),
                         int(x_zero_point), int(y_zero_point))


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, multiplier: float = 1.0,
           strides: tuple[int, int] = (1, 1), dilations: tuple[int, int] = (1, 1),
           pads: tuple[int, int, int, int] = (0, 0, 0, 0), groups: int = 1, relu: bool = False,
           pool_kernel: tuple[int, int] | None = None, pool_strides: tuple[int, int] = (1, 1),
           pool_pads: tuple[int, int, int, int] = (0, 0, 0, 0), pool_ignore_padding: bool = False,
           mode: str = "cpu", config: dict[str, Any] | None = None, threads: int = 1,
           multipliers: np.ndarray | None = None, x_zero_point: int = 0,
           y_zero_point: int = 0) -> tuple[np.ndarray, Counters]:
    """NHWC x, HWIO w; pads (top, left, bottom, right); an optional fused max-pool after scaling and ReLU.
    int8: multipliers (one per output channel) replace multiplier; x_zero_point (padding counts as it) and
    y_zero_point are in the int8 domain (uint8 data: shift by 128), see ep/systolic/include/systolic/conv.h."""
    pool = list(pool_kernel) if pool_kernel else None
    text = config_text(config) if config else None
    if x.dtype == np.float32:
        return _ext().conv2d_f32(x, w, bias, multiplier, list(strides), list(dilations), list(pads), groups, relu,
                                 pool, list(pool_strides), list(pool_pads), pool_ignore_padding, mode, text, threads)
    return _ext().conv2d(x, w, bias, multiplier, list(strides), list(dilations), list(pads), groups, relu, pool,
                         list(pool_strides), list(pool_pads), pool_ignore_padding, mode, text, threads,
                         _multipliers(multipliers), int(x_zero_point), int(y_zero_point))


def resadd(a: np.ndarray, b: np.ndarray, a_ratio: float, b_ratio: float, relu: bool = False, mode: str = "cpu",
           config: dict[str, Any] | None = None, threads: int = 1, a_zero_point: int = 0, b_zero_point: int = 0,
           c_zero_point: int = 0) -> tuple[np.ndarray, Counters]:
    """Gemmini residual add: each input centred on its zero point, scaled by its ratio, rounded and saturated on its
    own, then summed with the output zero point (int8-domain zero points)."""
    return _ext().resadd(a, b, a_ratio, b_ratio, relu, mode, config_text(config) if config else None, threads,
                         int(a_zero_point), int(b_zero_point), int(c_zero_point))


def make_multiplier(*args: Any) -> Any:
    """The accelerator's fixed-point form of a float multiplier (see rcnn._systolic.make_multiplier)."""
    return _ext().make_multiplier(*args)
