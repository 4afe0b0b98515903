"""Where the project's pieces live: source tree, sysroot, build trees, binaries.

Everything that names a location is here, so the rest of the package asks rather than guesses.
Environment overrides: RCNN_SYSROOT, RCNN_BUILD_DIR (parent of host/ and riscv64/ build trees), RCNN_EP_LIB (the
Systolic plugin EP library, librcnn_systolic_ep.so).
"""

from __future__ import annotations

import os
from pathlib import Path

import rcnn

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"  # small demo model and image (python -m rcnn.testnets)
MODELS_DIR = PACKAGE_DIR / "models"  # trained models that ship with the project (rcnn.train_shapes)


def source_root() -> Path | None:
    """The repository root when the package runs from a source checkout (editable install), else None."""
    root = PACKAGE_DIR.parent.parent
    return root if (root / "CMakeLists.txt").is_file() and (root / "toolchain").is_dir() else None


def build_dir() -> Path:
    if "RCNN_BUILD_DIR" in os.environ:
        return Path(os.environ["RCNN_BUILD_DIR"]).resolve()
    root = source_root()
    return (root / "build") if root else Path.cwd() / "build"


def sysroot() -> Path:
    if "RCNN_SYSROOT" in os.environ:
        return Path(os.environ["RCNN_SYSROOT"]).resolve()
    return build_dir() / "sysroot"


def riscv64_build_dir() -> Path:
    return build_dir() / "riscv64"


def riscv64_binary(name: str = "ort_test") -> Path:
    """A riscv64 executable of the C++ build (built by `cmake --build build/riscv64`)."""
    return riscv64_build_dir() / "cpp" / name / name


EP_LIBRARY = "librcnn_systolic_ep.so"


def riscv64_ep_library() -> Path:
    """The riscv64 Systolic plugin EP library (ORT >= 1.23 in the sysroot)."""
    return riscv64_build_dir() / "ep" / "ort" / EP_LIBRARY


def host_ep_library() -> Path | None:
    """The host Systolic plugin EP library: $RCNN_EP_LIB, else pip's copy in rcnn/lib, else a by-hand build's.

    The by-hand build looked at: build/host (configured with the sysroot, whose ORT >= 1.23 headers it needs).
    """
    override = os.environ.get("RCNN_EP_LIB")
    if override:
        return Path(override).resolve()
    candidates = [Path(p) / "lib" / EP_LIBRARY for p in rcnn.__path__]
    candidates.append(build_dir() / "host" / "ep" / "ort" / EP_LIBRARY)
    return next((c for c in candidates if c.is_file()), None)


# Where a by-hand host build (build/host) puts each executable pip installs into rcnn/bin.
_HOST_BUILD_PATHS = {"ort_test": Path("cpp") / "ort_test" / "ort_test",
                     "rcnn_device": Path("ep") / "device" / "rcnn_device"}


def host_binary(name: str = "ort_test") -> Path | None:
    """The host executable that pip installed into the package (rcnn/bin), or the by-hand build's, if any:
    ort_test, or rcnn_device (the device process of device mode, always a host program)."""
    # An editable install spreads the package over the source dir and site-packages: look in every part.
    candidates = [Path(p) / "bin" / name for p in rcnn.__path__]
    candidates.append(build_dir() / "host" / _HOST_BUILD_PATHS.get(name, Path("cpp") / name / name))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)
