"""A PNG drawing of an architecture: one box per layer, like the paper's figure; the command is
``python -m mobilenet_search_space.draw --arch "2 0 -1 ..." --out arch.png``.

Box colour is the kernel size, box height the expansion ratio; identity layers are a thin line.
Stages are separated and labelled with their output channels and stride.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from common.report import pyplot, save_png

from .encoding import BLOCKS, IDENTITY, STAGES, check

KERNEL_COLOURS = {3: "#7fb3d5", 5: "#f5b041", 7: "#ec7063"}


def draw_architecture(arch: Sequence[int], path: str | Path, title: str | None = None) -> None:
    """Write a PNG of ``arch`` to ``path`` (atomically)."""
    from matplotlib.patches import Patch, Rectangle

    arch = check(arch)
    fig, ax = pyplot().subplots(figsize=(14, 3.2))
    x, layer = 0.0, 0
    ax.add_patch(Rectangle((x, -0.4), 0.8, 0.8, color="#bfbfbf"))
    ax.text(x + 0.4, 0, "stem", ha="center", va="center", fontsize=7, rotation=90)
    x += 1.2
    for channels, stride, count in STAGES:
        start = x
        for _ in range(count):
            code = arch[layer]
            if code == IDENTITY:
                ax.plot([x, x + 0.8], [0, 0], color="#808080", lw=1.5)
                ax.text(x + 0.4, 0.12, "Id", ha="center", va="bottom", fontsize=7, color="#606060")
            else:
                kernel, expansion = BLOCKS[code]
                height = 0.5 if expansion == 3 else 1.0
                ax.add_patch(Rectangle((x, -height / 2), 0.8, height, color=KERNEL_COLOURS[kernel]))
                ax.text(x + 0.4, 0, f"K{kernel}\nE{expansion}", ha="center", va="center", fontsize=7)
            x += 1.0
            layer += 1
        ax.text((start + x - 0.2) / 2, -0.66, f"{channels} ch, s{stride}", ha="center", va="top", fontsize=8)
        ax.plot([x - 0.1, x - 0.1], [-0.6, 0.6], color="#d0d0d0", lw=0.8, ls="--")
        x += 0.2
    ax.add_patch(Rectangle((x, -0.4), 0.8, 0.8, color="#bfbfbf"))
    ax.text(x + 0.4, 0, "head", ha="center", va="center", fontsize=7, rotation=90)
    ax.set_xlim(-0.3, x + 1.1)
    ax.set_ylim(-0.9, 0.8)
    ax.axis("off")
    ax.legend(handles=[Patch(color=c, label=f"kernel {k}") for k, c in KERNEL_COLOURS.items()],
              loc="upper right", fontsize=7, ncol=3, frameon=False)
    ax.set_title(" ".join(str(c) for c in arch) + (f"   ({title})" if title else ""), fontsize=9)
    save_png(fig, path, dpi=150, bbox_inches="tight")
