"""Zero-cost proxies: training-free scores of a freshly initialised network from one batch.

- ``synflow`` (Tanaka et al. 2020; Abdelfattah et al. 2021): all weights replaced by their absolute
  values, an all-ones input in float64, R = sum of the outputs; score = sum over conv/linear weights
  of |theta * dR/dtheta|. BNs run in eval mode with fresh statistics (identity at initialisation),
  so they neither mix the batch nor break the sign-free flow.
- ``snip`` (Lee et al. 2019): sum of |theta * dL/dtheta| over conv/linear weights, L the
  cross-entropy of the batch.
- ``grad_norm``: sum over conv/linear weights of the L2 norm of dL/dtheta.
- ``jacov`` (Mellor et al. 2020, v1): with J the per-image input gradients of the summed output and
  sigma their correlation matrix, ``-sum(log(eig + k) + 1 / (eig + k))``, k = 1e-5.
- ``naswot`` (Mellor et al. 2021): log-determinant of the Hamming-similarity kernel of the binary
  ReLU activation codes of the batch.
- ``params`` (M) and ``flops`` (multiply-adds, M; ``common.flops``).

Each takes the network in training mode (BNs use batch statistics, as a network at step 0 does),
except where noted, and restores its weights. Larger is better for every proxy. A network whose
output ignores its input (an NB201 cell with every path cut) gets jacov's lowest value, and naswot's
singular kernel (log-determinant -inf) the lowest finite float, so rankings keep it, last.
"""
from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .flops import count_macs, count_params

PROXIES = ("synflow", "snip", "grad_norm", "jacov", "naswot", "params", "flops")
LOWEST = -float(np.finfo(np.float64).max)  # stands for -inf, so that rankings keep such networks (last)


def _weights(model: nn.Module) -> list[nn.Parameter]:
    """The conv and linear weights: the parameters the published proxies sum over."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad]


def _loss_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.train()
    weights = _weights(model)
    loss = F.cross_entropy(model(x), y)
    return list(torch.autograd.grad(loss, weights, allow_unused=True))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    grads = _loss_grads(model, x, y)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(_weights(model), grads) if g is not None))


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    grads = _loss_grads(model, x, y)
    return float(sum(g.norm() for g in grads if g is not None))


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        for param in net.parameters():
            param.abs_()
    net.eval()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    weights = _weights(net)
    grads = torch.autograd.grad(net(ones).sum(), weights, allow_unused=True)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None))


def jacov(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    model.train()
    x = x.detach().clone().requires_grad_(True)
    (jacobian,) = torch.autograd.grad(model(x).sum(), x, allow_unused=True)
    if jacobian is None:  # the output ignores the input (e.g. every path cut): no correlation at all
        jacobian = torch.zeros_like(x)
    jacobian = jacobian.reshape(len(x), -1).double()
    corr = torch.corrcoef(jacobian)
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-(torch.log(eig + k) + 1.0 / (eig + k)).sum())


@torch.no_grad()
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    model.train()
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def hook(module, inputs, output):
        codes = (inputs[0].reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel)[1])


def params(model: nn.Module, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> float:
    return count_params(model) / 1e6


def flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    return count_macs(model, x[:1]) / 1e6


FUNCTIONS = {"synflow": synflow, "snip": snip, "grad_norm": grad_norm, "jacov": jacov, "naswot": naswot,
             "params": params, "flops": flops}


def compute_proxies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: Sequence[str] = PROXIES) -> dict[str, float]:
    """Every proxy of ``names`` for ``model`` on the batch ``(x, y)``; the model's weights stay as they are."""
    state = copy.deepcopy(model.state_dict())  # train-mode forwards move BN running statistics
    result = {}
    unknown = [name for name in names if name not in FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown proxy '{unknown[0]}' (choose from {', '.join(PROXIES)})")
    for name in names:
        value = FUNCTIONS[name](model, x, y)
        if value == -np.inf:  # naswot of a network that maps every image alike: the lowest finite score
            value = LOWEST
        result[name] = value if np.isfinite(value) else float("nan")
        model.load_state_dict(state)
    model.zero_grad(set_to_none=True)
    return result
