"""EPS on NAS-Bench-201: a supernet whose training paths come from an evolving proxy space.

The population lives in the state dict (buffer ``eps_population``, with the step counter
``eps_step``), so checkpoints carry it and a resumed run continues it exactly. Every
``search.eps.update_every`` steps the population is re-scored by the cross-entropy of one
validation batch (drawn afresh, seeded by the update's number; BN statistics of that batch, the
running statistics untouched) and evolved (``common.eps``). A path is one genotype in every cell.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from common.data import BatchAugment, build_datasets
from common.eps import EPSConfig, EvolvingProxySpace, initial_population
from common.errors import UserError
from common.seeding import numpy_rng, torch_generator

from .encoding import NB201Codec, NUM_EDGES
from .supernet import Supernet, SupernetConfig, build_supernet

logger = logging.getLogger("rlnas")


class EPSSupernet(Supernet):
    paths_depend_on_weights = True  # sample_path re-scores the proxy space with the training weights

    def __init__(self, cfg: SupernetConfig, num_classes: int, eps: EPSConfig, seed: int):
        super().__init__(cfg, num_classes)
        self.eps_cfg, self.eps_seed = eps, seed
        self.space = NB201Codec()
        population = initial_population(self.space, eps.population, numpy_rng(seed, "eps", "init"))
        self.register_buffer("eps_population", torch.tensor(population, dtype=torch.int64))
        self.register_buffer("eps_step", torch.zeros((), dtype=torch.int64))
        self.valid_x: torch.Tensor | None = None  # normalised validation images, set by the builder
        self.valid_y: torch.Tensor | None = None

    def proxy_space(self) -> EvolvingProxySpace:
        return EvolvingProxySpace(self.space, self.eps_cfg, [tuple(int(v) for v in row) for row in self.eps_population.tolist()])

    @torch.no_grad()
    def batch_losses(self, archs, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        """Cross-entropy of each architecture on ``(x, y)`` with batch statistics; running statistics untouched."""
        bns = [m for m in self.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.momentum = 0.0  # running = (1 - 0) * running: unchanged
        try:
            return np.array([float(F.cross_entropy(self(x, arch), y)) for arch in archs])
        finally:
            for m, momentum in zip(bns, momenta):
                m.momentum = momentum

    def sample_path(self, rng: np.random.Generator) -> np.ndarray:
        step = int(self.eps_step)
        space = self.proxy_space()
        if step > 0 and step % self.eps_cfg.update_every == 0 and self.valid_x is not None:
            update = step // self.eps_cfg.update_every
            pick = torch.randperm(len(self.valid_y), generator=torch_generator(self.eps_seed, "eps", "batch", update))
            pick = pick[: self.eps_cfg.valid_batch]
            device = self.classifier.weight.device
            x, y = self.valid_x[pick].to(device), self.valid_y[pick].to(device)
            scores = space.update(lambda archs: -self.batch_losses(archs, x, y), numpy_rng(self.eps_seed, "eps", "evolve", update))
            self.eps_population.copy_(torch.tensor(space.population, dtype=torch.int64))
            if update % 20 == 0:
                logger.info("eps: step %d, proxy space re-scored (best loss %.4f, median %.4f)", step, -scores.max(),
                            -np.median(scores))
        self.eps_step += 1
        return np.tile(np.array(space.sample(rng)), (self.num_search_cells, 1)).reshape(-1, NUM_EDGES)


def build_training_supernet(cfg, num_classes: int) -> Supernet:
    """The supernet an experiment trains: the plain one, or EPS's when ``search.strategy`` is ``eps``."""
    if cfg.search.strategy != "eps":
        return build_supernet(cfg.model, num_classes)
    model = EPSSupernet(cfg.model, num_classes, cfg.search.eps, cfg.seed)
    datasets = build_datasets(cfg.data, cfg.seed)
    valid = datasets.valid if datasets.valid is not None else datasets.test
    if valid is None or len(valid) == 0:
        raise UserError("search.strategy eps: needs validation images (data.valid_fraction or a split file, or a test set)")
    model.valid_x = BatchAugment(datasets.mean, datasets.std)(valid.images, None)
    model.valid_y = valid.targets.clone()
    return model


def final_population(state: dict) -> list[tuple] | None:
    """The proxy space stored in a checkpoint's model state, or None for a plain supernet."""
    population = state.get("eps_population")
    return None if population is None else [tuple(int(v) for v in row) for row in population.tolist()]
