"""The single-path supernet step as fixed work: every op computed, the path applied as masks.

A single-path step (``common.trainer.train_step``) runs the sampled path's ops only, so each step
launches different kernels, decided by Python. ``MaskedStep`` runs the same kernels at every step:
the supernet computes every op of every edge and combines them with the path's one-hot masks
(``masked_forward``); the SGD update, the momentum buffers and the BatchNorm running statistics of
the ops the single-path step would not have run are then kept as they were. The result equals the
single-path step to float rounding (tested in float64, both ``train.zero_grad`` semantics), and the
whole step can be captured once in a CUDA graph and replayed, with no host work per step but a
replay.

To that end every trainable parameter, its gradient and its momentum buffer are views of three
flat buffers, and the running statistics of the ops' BatchNorms views of one more; the update is a
handful of elementwise kernels over the flat buffers. Which op each tensor belongs to comes from the
supernet: ``num_slots``, ``slot_of(name)`` (None: on every path), ``path_codes(path)``,
``ran_slots(codes)`` and ``masked_forward(x, codes)`` (``nas_bench_201.supernet.Supernet``).

Supported: SGD with momentum (Nesterov or not, no dampening) and weight decay per group, the step
of ``train_step`` without gradient clipping or fp16 loss scaling, one process.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError


def supports(model: nn.Module, cfg, world_size: int = 1) -> Optional[str]:
    """None if the masked step can train ``model`` with ``cfg``, else why not."""
    if not all(hasattr(model, name) for name in ("masked_forward", "ran_slots", "slot_of", "path_codes")):
        return "the supernet has no masked forward (NAS-Bench-201 only, so far)"
    if world_size > 1:
        return "it runs in one process"
    if cfg.grad_clip_norm is not None or cfg.grad_clip_value is not None:
        return "gradient clipping is not supported"
    if cfg.amp == "fp16":
        return "fp16 loss scaling is not supported (bf16 is)"
    if cfg.momentum == 0:
        return "it needs SGD with momentum"
    if getattr(model, "paths_depend_on_weights", False):
        return "its paths depend on the weights as they train (EPS)"
    return None


def _flat_views(tensors: list[torch.Tensor], flat: torch.Tensor) -> list[torch.Tensor]:
    """Views of ``flat`` with each tensor's size and strides (dense tensors, any memory format)."""
    views, offset = [], 0
    for tensor in tensors:
        views.append(flat.as_strided(tensor.size(), tensor.stride(), offset))
        offset += tensor.numel()
    return views


def _owners(sizes: list[int], device: torch.device) -> torch.Tensor:
    """Index from each element of a flat buffer to the tensor it belongs to."""
    return torch.repeat_interleave(torch.arange(len(sizes), device=device), torch.tensor(sizes, device=device))


class MaskedStep:
    """``step(images, labels, codes)`` trains ``model`` one step as ``train_step`` does on ``path``
    (``codes = model.path_codes(path)`` on the device) with ``optimizer``'s hyperparameters; the
    optimizer object keeps holding the (flat-backed) momentum buffers, so checkpoints are as before.

    Build it after any state is loaded (resume): the flat buffers take the tensors' values then.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.SGD, cfg):
        why = supports(model, cfg)
        if why is not None:
            raise UserError(f"train.step_mode: the masked step cannot train this run: {why}")
        self.model, self.optimizer, self.cfg = model, optimizer, cfg
        group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        self.names = [name for name, p in model.named_parameters() if id(p) in group_of]
        params = [p for _, p in model.named_parameters() if id(p) in group_of]
        if len({group["momentum"] for group in optimizer.param_groups}) != 1 or any(
                group["dampening"] != 0 for group in optimizer.param_groups):
            raise UserError("train.step_mode: the masked step needs one momentum and no dampening")
        self.momentum = optimizer.param_groups[0]["momentum"]
        self.nesterov = optimizer.param_groups[0]["nesterov"]
        device, dtype = params[0].device, params[0].dtype
        sizes = [p.numel() for p in params]
        owner = _owners(sizes, device)
        # parameters, gradients and momentum buffers as views of flat buffers
        self.params = torch.empty(sum(sizes), device=device, dtype=dtype)
        self.grads = torch.zeros_like(self.params)
        self.buffers = torch.zeros_like(self.params)
        self.ever = torch.tensor([p.grad is not None for p in params], device=device)  # zero_grad: has a gradient
        for p, view, grad, buffer in zip(params, _flat_views(params, self.params), _flat_views(params, self.grads),
                                         _flat_views(params, self.buffers)):
            view.copy_(p.detach())
            p.data = view
            p.grad = grad
            state = optimizer.state[p]
            if state.get("momentum_buffer") is not None:
                buffer.copy_(state["momentum_buffer"])
            state["momentum_buffer"] = buffer
        self.weight_decay = torch.tensor([group_of[id(p)]["weight_decay"] for p in params], device=device, dtype=dtype)[owner]
        self.lr = torch.tensor(optimizer.param_groups[0]["lr"], device=device, dtype=dtype)
        always = model.num_slots  # the slot of tensors on every path: always ran
        slots = torch.tensor([always if model.slot_of(n) is None else model.slot_of(n) for n in self.names], device=device)
        self.param_slot = slots
        self.element_param = owner
        # running statistics of the ops' BatchNorms, as views of one flat buffer (the ops' BNs only)
        norms = [(name, m) for name, m in model.named_modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
                 and model.slot_of(name + ".") is not None]
        stats = [t for _, m in norms for t in (m.running_mean, m.running_var)]
        self.stats = torch.cat([t.reshape(-1) for t in stats]) if stats else torch.zeros(0, device=device)
        self.counts = torch.stack([m.num_batches_tracked for _, m in norms]) if norms else torch.zeros(0, device=device)
        stat_views = iter(_flat_views(stats, self.stats))
        for index, (_, m) in enumerate(norms):
            m.running_mean, m.running_var = next(stat_views), next(stat_views)
            m.num_batches_tracked = self.counts[index]
        norm_slots = torch.tensor([model.slot_of(name + ".") for name, _ in norms], device=device, dtype=torch.long)
        self.stat_slot = norm_slots.repeat_interleave(2)[_owners([t.numel() for t in stats], device)]
        self.norm_slot = norm_slots
        self.always = torch.ones(1, dtype=torch.bool, device=device)  # the slot of tensors on every path

    def epoch_codes(self, paths) -> torch.Tensor:
        """``(steps, cells, 6)`` codes of an epoch's paths on the device, moved in one copy."""
        return torch.stack([self.model.path_codes(path) for path in paths]).to(self.params.device)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the next steps (a device write: no host sync, safe between graph replays)."""
        self.lr.fill_(lr)

    def step(self, images: torch.Tensor, labels: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step on the path ``codes``; returns the detached loss and logits."""
        from .trainer import autocast

        cfg = self.cfg
        if cfg.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        stats, counts = self.stats.clone(), self.counts.clone()
        self.grads.zero_()
        with autocast(images.device, cfg.amp):
            logits = self.model.masked_forward(images, codes)
        logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
        loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
        loss.backward()
        ran = torch.cat([self.model.ran_slots(codes), self.always])
        # BatchNorm statistics and counts of the ops that did not run go back to what they were
        self.stats.copy_(torch.where(ran[self.stat_slot], self.stats, stats))
        self.counts.copy_(torch.where(ran[self.norm_slot], self.counts, counts))
        # SGD on the parameters that take a step: those that ran (drop), or have ever run (zero)
        active = ran[self.param_slot]
        if cfg.zero_grad == "zero":
            active = active | self.ever
            self.ever.copy_(active)
        take = active[self.element_param]
        direction = self.grads + self.weight_decay * self.params
        buffers = self.buffers * self.momentum + direction
        if self.nesterov:
            direction = direction + self.momentum * buffers
        else:
            direction = buffers
        self.params.copy_(torch.where(take, self.params - self.lr * direction, self.params))
        self.buffers.copy_(torch.where(take, buffers, self.buffers))
        return loss.detach(), logits.detach()

    def zeroed_grads(self) -> list[str]:
        """``train.zero_grad: zero``: the parameters that hold a gradient in the single-path step."""
        return [name for name, flag in zip(self.names, self.ever.tolist()) if flag]


class CapturedStep:
    """``MaskedStep`` captured once in a CUDA graph and replayed: per step the host copies the batch
    and the path into static buffers and launches the graph. Before the capture a few warm-up steps
    run on a side stream (CUDA graphs need the allocator and libraries warmed up); every buffer they
    touch is restored afterwards, so training starts from exactly the state it was given."""

    warmup_steps = 3

    def __init__(self, masked: MaskedStep):
        if masked.params.device.type != "cuda":
            raise UserError("train.step_mode=captured needs a CUDA device (use masked or single_path)")
        self.masked = masked
        self.graph = None
        self.images = self.labels = self.codes = None
        self.loss = self.logits = None

    def epoch_codes(self, paths) -> torch.Tensor:
        return self.masked.epoch_codes(paths)

    def set_lr(self, lr: float) -> None:
        self.masked.set_lr(lr)

    def zeroed_grads(self) -> list[str]:
        return self.masked.zeroed_grads()

    def step(self, images: torch.Tensor, labels: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.graph is None:
            self._capture(images, labels, codes)
        self.images.copy_(images)
        self.labels.copy_(labels)
        self.codes.copy_(codes)
        self.graph.replay()
        return self.loss.clone(), self.logits.clone()

    def _capture(self, images, labels, codes) -> None:
        masked = self.masked
        self.images, self.labels, self.codes = images.clone(), labels.clone(), codes.clone()
        saved = [t.clone() for t in self._state()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup_steps):
                masked.step(self.images, self.labels, self.codes)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.logits = masked.step(self.images, self.labels, self.codes)
        for tensor, value in zip(self._state(), saved):  # the warm-up steps never happened
            tensor.copy_(value)

    def _state(self) -> list[torch.Tensor]:
        """Every tensor a step writes: the flat buffers and all BatchNorm statistics."""
        masked = self.masked
        return [masked.params, masked.grads, masked.buffers, masked.ever, masked.stats, masked.counts,
                *masked.model.buffers()]
