"""Figures: matplotlib without a display, written atomically like every other output."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rcnn.files import atomic_write


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (machines here have no screen); imported only when a figure is made."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """The figure as a PNG at `path` (never half-written), then closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    pyplot().close(fig)
    atomic_write(path, buf.getvalue())
