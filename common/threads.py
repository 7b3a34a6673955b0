"""How many compute threads a training process uses on the CPU.

PyTorch starts one OpenMP thread per logical CPU in every process. Under ``torchrun`` with N local
processes, or beside DataLoader workers, that oversubscribes the cores, and OpenMP threads that wait
on a descheduled sibling make a step several times slower (measured in docs/performance.md, Threads
section). The default gives each local process its share of the physical cores, less its loader
workers, and at least one thread.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import torch

logger = logging.getLogger("rlnas")


def usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def physical_cores(sysfs: Path = Path("/sys/devices/system/cpu"), cpus: Optional[set[int]] = None) -> int:
    """Physical cores among ``cpus`` (default: those this process may run on), hyper-threads counted once."""
    cpus = usable_cpus() if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        topology = sysfs / f"cpu{cpu}" / "topology"
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip()))
        except OSError:
            return len(cpus)  # no topology: count logical CPUs
    return max(1, len(cores))


def local_processes() -> int:
    """Processes of this job on this machine (``LOCAL_WORLD_SIZE`` under torchrun, else 1)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def default_threads(cores: int, processes: int = 1, loader_workers: int = 0) -> int:
    """Each local process's share of the cores, less its DataLoader workers; at least 1."""
    return max(1, cores // max(1, processes) - loader_workers)


def loader_workers(data) -> int:
    """DataLoader worker processes per rank of a ``common.data.DataConfig`` (0: in-memory data)."""
    return data.imagenet.num_workers if data.dataset == "imagenet" else 0


def configure_threads(requested: Optional[int], workers: int = 0) -> int:
    """Set torch's intra-op threads and return the number: ``requested`` (``train.threads``), else
    ``OMP_NUM_THREADS`` when the user set it, else ``default_threads`` for this machine and job."""
    cores, processes = physical_cores(), local_processes()
    if requested is not None:
        threads, source = requested, "train.threads"
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        threads, source = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    else:
        threads, source = default_threads(cores, processes, workers), "default"
    if threads < 1:
        raise ValueError(f"train.threads must be positive, got {threads}")
    torch.set_num_threads(threads)
    logger.info("compute threads: %d per process (%s; %d physical cores, %d local process(es), %d loader workers)",
                threads, source, cores, processes, workers)
    return threads
