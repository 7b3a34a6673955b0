"""A PNG drawing of a genotype's normal and reduction cells (matplotlib, no display needed); the
command is ``python -m darts_search_space.draw --arch NAME_OR_TEXT --out cells.png``.

Inputs ``c_{k-2}``, ``c_{k-1}`` on the left, the four intermediate nodes in the middle, the
concatenated output ``c_{k}`` on the right; every edge is labelled with its op.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from common.report import pyplot, save_png

from .encoding import CONCAT, NONE, NUM_EDGES, OPS, STEPS, edge_index

_COLOURS = {"max_pool_3x3": "tab:gray", "avg_pool_3x3": "tab:olive", "skip_connect": "tab:green",
            "sep_conv_3x3": "tab:blue", "sep_conv_5x5": "tab:purple", "dil_conv_3x3": "tab:orange",
            "dil_conv_5x5": "tab:red"}


def _positions() -> dict:
    pos = {0: (0.0, 2.0), 1: (0.0, 0.0)}
    for n in range(STEPS):
        pos[2 + n] = (1.3 + 1.1 * n, 1.0 + (0.7 if n % 2 else -0.7))
    pos["out"] = (1.3 + 1.1 * STEPS + 0.2, 1.0)
    return pos


def _draw_cell(ax, genes: Sequence[int], title: str) -> None:
    pos = _positions()
    names = {0: "c_{k-2}", 1: "c_{k-1}", "out": "c_{k}"}
    for (k, j) in ((k, j) for j in range(2, 2 + STEPS) for k in range(j)):
        code = genes[edge_index(k, j)]
        if code == NONE:
            continue
        (x0, y0), (x1, y1) = pos[k], pos[j]
        colour = _COLOURS[OPS[code]]
        # Longer edges bend more, so that they pass around the nodes in between.
        rad = (0.12 + 0.1 * (j - max(k, 1) - 1)) * (1 if k % 2 == 0 else -1)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.6, shrinkA=14, shrinkB=14,
                                    connectionstyle=f"arc3,rad={rad}"))
        # the label sits on the curve's midpoint (a quadratic Bezier through arc3's control point)
        mx, my = (x0 + x1) / 2 + rad * (y1 - y0) / 2, (y0 + y1) / 2 - rad * (x1 - x0) / 2
        ax.text(mx, my, OPS[code], fontsize=7, color=colour,
                ha="center", va="center", bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    for node in CONCAT:
        (x0, y0), (x1, y1) = pos[node], pos["out"]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="lightgray", lw=1, shrinkA=14, shrinkB=14))
    for key, (x, y) in pos.items():
        label = names.get(key, str(key - 2) if isinstance(key, int) else key)
        colour = "lightblue" if key in (0, 1) else "khaki" if key == "out" else "white"
        ax.text(x, y, label, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="black"))
    ax.set_title(title)
    ax.set_xlim(-0.5, pos["out"][0] + 0.5)
    ax.set_ylim(-0.8, 2.8)
    ax.set_aspect("equal")
    ax.axis("off")


def draw(arch: Sequence[int], path: Path, title: str = "") -> None:
    """Write the two cells of ``arch`` as a PNG to ``path`` (atomically)."""
    fig, axes = pyplot().subplots(1, 2, figsize=(13, 4))
    _draw_cell(axes[0], arch[:NUM_EDGES], "normal cell")
    _draw_cell(axes[1], arch[NUM_EDGES:], "reduction cell")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
