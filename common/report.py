"""Plots and tables for reports (matplotlib without a display)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from .checkpoint import atomic_write_bytes


def pyplot():
    """matplotlib's pyplot on the Agg backend: plots need no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, dpi: int = 120, **savefig_kwargs) -> None:
    """Write ``fig`` to ``path`` as PNG, atomically, and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, **savefig_kwargs)
    pyplot().close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())


def scatter_panels(panels: Sequence[dict], path: Path, xlabel: str) -> None:
    """One scatter panel per dict ``{x, y, title, ylabel, highlight}`` (highlight: index to mark), as PNG."""
    fig, axes = pyplot().subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        x, y = np.asarray(panel["x"]), np.asarray(panel["y"])
        ax.scatter(x, y, s=3, alpha=0.35, linewidths=0, color="tab:blue")
        if panel.get("highlight") is not None:
            i = panel["highlight"]
            ax.scatter([x[i]], [y[i]], s=60, marker="*", color="tab:red", label="best by score", zorder=3)
            ax.legend(loc="lower right")
        ax.set_title(panel["title"])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(panel["ylabel"])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
