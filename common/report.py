"""Reports: cells over independent units (mean, sample SD, t-interval), markdown tables, CSV files, and
PNG plots (matplotlib without a display)."""
from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from .checkpoint import atomic_write_bytes, atomic_write_text
from .statistics import summary

UNITS_CELL = "mean (SD, 95% CI, n supernets)"  # how a cell of ``mean_sd_ci`` reads, for table headers


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
        ax.set_title(wrap_title(panel["title"], 56), fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(panel["ylabel"])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")


def mean_sd_ci(values: Sequence[Optional[float]], digits: int = 2) -> str:
    """One value per independent unit (a supernet) -> ``92.47 (SD 0.43, 95% CI 91.40 to 93.54, n=3)``:
    the mean, the *sample* standard deviation (ddof 1) and the Student-t 95% interval of the mean
    (``common.statistics.summary``); one unit: ``92.72 (n=1)``; none: ``n/a``."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    return summary(values).text(digits)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if np.isfinite(value) else "n/a"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(Path(path), buffer.getvalue())


def wrap_title(title: str, width: int = 48) -> str:
    """A panel title broken into lines of at most ``width`` characters (a long title is not clipped)."""
    return "\n".join(textwrap.wrap(title, width)) or title


def line_plot(panels: Sequence[dict], path: Path) -> None:
    """One panel per dict ``{title, xlabel, ylabel, series: {name: (x, y)}, marks: {name: x}}``; long
    titles wrap, and the figure is cropped to what it draws (nothing is clipped)."""
    fig, axes = pyplot().subplots(1, len(panels), figsize=(5.5 * len(panels), 4.4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for name, (x, y) in panel["series"].items():
            ax.plot(x, y, marker="o", markersize=3, label=name)
        for name, x in (panel.get("marks") or {}).items():
            ax.axvline(x, color="tab:red", linestyle=":", alpha=0.6)
        if all(float(v).is_integer() for x, _ in panel["series"].values() for v in x):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs, class counts
        ax.set_title(wrap_title(panel["title"]), fontsize=10)
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")


def bar_plot(values: Mapping[str, Mapping[str, float]], path: Path, ylabel: str, title: str,
             errors: Optional[Mapping[str, Mapping[str, float]]] = None) -> None:
    """Grouped bars: ``values[group][series]`` (e.g. tau per method, one group per dataset), with
    ``errors[group][series]`` as error bars (+- that value; missing or nan: none). The legend sits
    outside the axes, right of the bars, so it covers none of them."""
    groups = list(values)
    series = list(dict.fromkeys(name for group in values.values() for name in group))
    width = 0.8 / max(len(series), 1)
    fig, ax = pyplot().subplots(figsize=(max(5, 1.2 * len(groups) * max(len(series), 1) * 0.6 + 2), 4))
    for k, name in enumerate(series):
        heights = [values[g].get(name, np.nan) for g in groups]
        spread = [(errors or {}).get(g, {}).get(name, np.nan) for g in groups]
        yerr = None if all(not np.isfinite(e) for e in spread) else [e if np.isfinite(e) else 0.0 for e in spread]
        ax.bar(np.arange(len(groups)) + k * width - 0.4 + width / 2, heights, width, label=name,
               yerr=yerr, capsize=3 if yerr is not None else 0, error_kw={"elinewidth": 1})
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels([wrap_title(g, 28) for g in groups])
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel(ylabel)
    ax.set_title(wrap_title(title, 70), fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")
