"""Multi-process data parallelism under ``torchrun``: process group, ranks, device, DDP wrapper.

A stage started by ``torchrun --nproc_per_node=N -m <package>.<stage> ...`` runs N copies of the
same program; ``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``. Started plainly (``python -m ...``) none is set and everything here degrades to a
single process: ``rank() == 0``, ``world_size() == 1``, ``wrap(model)`` returns the model.

Typical use in a training loop::

    from common import distributed

    distributed.init()                          # reads the torchrun environment; gloo on CPU, nccl on CUDA
    try:
        device = distributed.device("auto")     # cuda:LOCAL_RANK under torchrun with GPUs, else as asked
        model = build().to(device)
        ddp = distributed.wrap(model)            # DDP over all ranks (the model itself with one process)
        batch = distributed.per_rank(cfg.batch_size)   # a config's batch size is the global batch
        ...  # each rank reads its shard: InMemoryLoader(..., rank=distributed.rank(), world_size=...)
        if distributed.is_main():                # only rank 0 writes checkpoints, logs and TensorBoard
            save(...)
        distributed.barrier()                    # the others wait until the files exist
        totals = distributed.all_reduce_sum(torch.tensor([correct, seen]))   # metrics over all ranks
    finally:
        distributed.cleanup()

``init`` is idempotent and ``cleanup`` only destroys a group that ``init`` created, so a library
function may call both without knowing whether its caller already did.
"""
from __future__ import annotations

import datetime
import os
import torch
import torch.distributed as dist
from torch import nn

from .errors import UserError

_created_here = False


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {name}={value!r} is not an integer") from None


def requested_world_size() -> int:
    """The number of processes ``torchrun`` started (1 without torchrun)."""
    return _env_int("WORLD_SIZE", 1)


def init(timeout_minutes: float = 30.0) -> bool:
    """Join the process group described by the torchrun environment; ``True`` when distributed.

    The backend is ``nccl`` when CUDA is available (each process then uses GPU ``LOCAL_RANK``) and
    ``gloo`` otherwise. Without torchrun (``WORLD_SIZE`` unset or 1) nothing happens.
    """
    global _created_here
    if dist.is_available() and dist.is_initialized():
        return True
    if requested_world_size() <= 1:
        return False
    if not dist.is_available():
        raise UserError("torch.distributed is not available in this PyTorch build")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise UserError(f"WORLD_SIZE is set but {name} is not: start multi-process runs with torchrun")
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=timeout_minutes))
    _created_here = True
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0)


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def cleanup(wait: bool = True) -> None:
    """Leave the process group if ``init`` created it. ``wait``: first wait for every rank (no rank
    leaves while another still talks to it); pass ``False`` on an error, which the others may not share
    (torchrun then stops them)."""
    global _created_here
    if _created_here and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
    _created_here = False


def device(name: str) -> torch.device:
    """The device of this process: ``auto`` is CUDA when available; under torchrun a CUDA device
    becomes ``cuda:LOCAL_RANK`` (one GPU per process)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise UserError(f"device: '{name}' is not a device (use auto, cpu, cuda or cuda:N)") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device: '{name}' requested but CUDA is not available (use device: auto or cpu)")
        if is_distributed():
            resolved = torch.device("cuda", local_rank())
    return resolved


def per_rank(global_batch: int, what: str = "train.batch_size") -> int:
    """This rank's share of a global batch, which must divide evenly."""
    size = world_size()
    if global_batch % size:
        raise UserError(f"{what}={global_batch} (the global batch) is not divisible by the {size} processes")
    return global_batch // size


def wrap(model: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model``. Weight-sharing supernets
    train a different subset of their weights each step and need ``find_unused_parameters=True``."""
    if not is_distributed():
        return model
    device_ids = [model_device(model).index] if model_device(model).type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                               find_unused_parameters=find_unused_parameters)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (whose state-dict keys carry no ``module.`` prefix)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over all ranks (in place; the tensor itself with one process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor

