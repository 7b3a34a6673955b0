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


def fill_momentum_buffers(optimizer: torch.optim.Optimizer) -> None:
    """Give every parameter of a fused SGD group a momentum buffer (zeros where it has none).

    PyTorch's fused SGD takes a step where no parameter has a buffer yet or every one has; the steps of
    a single-path supernet update different parameters, so without this its second step fails. A zero
    buffer gives the first update exactly as PyTorch's own first step does (the gradient, as dampening
    is 0). Called after building the optimizer and after loading its state."""
    for group in optimizer.param_groups:
        if not group.get("fused") or group["momentum"] == 0:
            continue
        if group["dampening"] != 0:
            raise ValueError("zero momentum buffers match PyTorch's first SGD step only without dampening")
        for param in group["params"]:
            state = optimizer.state[param]
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """``optimizer.load_state_dict(state)`` keeping this process's SGD kernels. PyTorch takes the saved
    groups' ``foreach`` and ``fused`` flags too: a checkpoint written on the CPU would turn a GPU run's
    fused SGD into foreach, one written on a GPU would ask the CPU for fused SGD."""
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        for flag in ("foreach", "fused"):
            group[flag] = optimizer.defaults.get(flag)
    fill_momentum_buffers(optimizer)
