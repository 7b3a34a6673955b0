"""Which optimizer kernels a device gets: the choice changes speed and host-device synchronisation,
not the update (the same SGD arithmetic per element)."""
from __future__ import annotations

from typing import Iterable

import torch


def sgd_kernels(params: Iterable[torch.Tensor], foreach: bool = True) -> dict:
    """Keyword arguments for ``torch.optim.SGD``: ``fused`` when every parameter is on CUDA (one kernel
    per step, and a GradScaler hands its inf check to the kernel instead of reading it on the host
    every step), else ``foreach`` (multi-tensor) or, with ``foreach=False``, the per-parameter loop."""
    params = list(params)
    if foreach and params and all(p.is_cuda for p in params):
        return {"fused": True}
    return {"foreach": foreach}
