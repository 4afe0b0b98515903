"""Figures: matplotlib without a display, written atomically like every other output (the training curves of
rcnn.train_shapes, the AP bars of rcnn.eval)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


def plot_training(log_path: Path, out: Path) -> None:
    """Loss curves (total and per head, smoothed) against iterations, as a PNG."""
    plt = pyplot()

    run = json.loads(log_path.read_text())
    log = run["log"]
    steps = np.array([e["step"] for e in log])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = max(1, min(25, len(log)))  # a short run still gets a curve
    for key in ["loss", *[k for k in log[0] if k.startswith("loss_")]]:
        y = np.convolve([e[key] for e in log], np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], y, label=key, lw=2 if key == "loss" else 1)
    ax.set_yscale("log")
    minutes = log[-1]["seconds"] / 60
    ax.set_xlabel(f"iteration (batch {run['batch']}); {minutes:.1f} min on {run['threads']} CPU threads")
    ax.set_ylabel(f"training loss ({window}-iteration mean)")
    ax.set_title("demo Mask R-CNN on synthetic shapes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, out)


def plot_summaries(summaries: Sequence[Any], title: str, out: Path) -> None:
    """Grouped bars of box and mask AP, one bar per run, written atomically as a PNG."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    width = 0.8 / max(1, len(summaries))
    for k, s in enumerate(summaries):
        xs = np.arange(2) + (k - (len(summaries) - 1) / 2) * width
        ap = [100 * (s.box or {}).get("AP", 0.0), 100 * (s.mask or {}).get("AP", 0.0)]
        bars = ax.bar(xs, ap, width * 0.95, label=f"{s.label} ({s.runner})")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(2), ["box AP", "mask AP"])
    ax.set_ylim(0, 118)  # room for the legend above the bars
    ax.set_ylabel("COCO AP @ IoU 0.50:0.95 (points)")
    ax.set_title(f"rcnn.eval: {Path(title).name}", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=min(3, len(summaries)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, out)


def contact_sheet(images: Sequence[Path], path: Path, thumb: int = 320, columns: int = 4, limit: int = 64) -> None:
    """The first `limit` images as thumbnails (longer side `thumb` px) in a grid with their folder's name under each:
    a batch run's overview."""
    from PIL import Image, ImageDraw

    shown = list(images)[:limit]
    cols = min(columns, len(shown))
    rows = -(-len(shown) // cols)
    label_h = 16
    sheet = Image.new("RGB", (cols * thumb, rows * (thumb + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, image in enumerate(shown):
        with Image.open(image) as im:
            small = im.convert("RGB")
            small.thumbnail((thumb, thumb))
        x, y = (k % cols) * thumb, (k // cols) * (thumb + label_h)
        sheet.paste(small, (x + (thumb - small.width) // 2, y + (thumb - small.height) // 2))
        draw.text((x + 4, y + thumb + 2), image.parent.name, fill="black")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
