"""Inherited-weight validation accuracy of NAS-Bench-201 architectures (the paper's methods A and C).

The trained supernet is loaded from its checkpoint; each architecture runs with its genotype in
every search cell, after BN re-calibration on ``search.val_acc.bn_batches`` augmented training
batches (fixed, seeded). The validation images are the held-out part of the training images
(``data.valid_fraction`` or a split file), else the test set; ``search.val_acc.valid_images``
takes a seeded subset. Labels: see ``common.valacc``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint
from common.data import BatchAugment, build_datasets
from common.errors import UserError
from common.seeding import torch_generator
from common.training import resolve_device
from common.valacc import SubnetAccuracy

from .eps import build_training_supernet
from .space import NAME, to_str

logger = logging.getLogger("rlnas")


def validation_data(cfg, num_classes: int, device: torch.device, datasets=None):
    """``(bn_batches, valid_x, valid_y, description)`` for the val_acc score of experiment ``cfg``."""
    vcfg = cfg.search.val_acc
    datasets = datasets if datasets is not None else build_datasets(cfg.data, cfg.seed)
    valid, source = (datasets.valid, "held-out training images") if datasets.valid is not None else (datasets.test, "test set")
    if valid is None or len(valid) == 0:
        raise UserError("search.score val_acc: no validation images (set data.valid_fraction or data.split_file)")
    if vcfg.valid_images is not None and vcfg.valid_images < len(valid):
        pick = torch.randperm(len(valid), generator=torch_generator(cfg.seed, "val_acc", "subset"))[: vcfg.valid_images]
        valid = valid.subset(pick.sort().values)
    labels = vcfg.labels
    if labels == "auto":
        labels = "true" if cfg.labels.mode == "ground_truth" else "random"
    if labels == "random":
        valid_y = torch.randint(num_classes, (len(valid),), generator=torch_generator(cfg.seed, "val_acc", "labels"))
    else:
        if num_classes != valid.num_classes:
            raise UserError(f"search.val_acc.labels: true labels need a {valid.num_classes}-class supernet, this one has {num_classes}")
        valid_y = valid.targets
    augment = BatchAugment(datasets.mean, datasets.std, cfg.data.augment.crop_padding, cfg.data.augment.flip)
    order = torch.randperm(len(datasets.train), generator=torch_generator(cfg.seed, "val_acc", "bn"))
    generator = torch_generator(cfg.seed, "val_acc", "bn_augment")
    size = vcfg.batch_size
    bn_batches = [augment(datasets.train.images[order[i:i + size]], generator).to(device)
                  for i in range(0, min(len(order), vcfg.bn_batches * size), size)]
    valid_x = BatchAugment(datasets.mean, datasets.std)(valid.images, None).to(device)
    description = f"{len(valid)} {source} with {labels} labels, BN re-calibrated on {len(bn_batches)} x {size} training images"
    return bn_batches, valid_x, valid_y.to(device), description


def valacc_scorer(cfg, trained: Path, datasets=None, metric: str = "accuracy") -> SubnetAccuracy:
    """The val_acc scorer of the supernet in checkpoint ``trained`` (trained with config ``cfg``)."""
    checkpoint = load_checkpoint(trained, space=NAME)
    num_classes = int(checkpoint["model"]["classifier.weight"].shape[0])
    device = resolve_device(cfg.device)
    model = build_training_supernet(cfg, num_classes)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError:
        raise UserError(f"{trained}: not a supernet of the configured shape (model/search.strategy)") from None
    model.to(device)
    bn_batches, valid_x, valid_y, description = validation_data(cfg, num_classes, device, datasets)
    logger.info("val_acc: %s", description)
    scorer = SubnetAccuracy(model, lambda x, arch: model(x, arch), to_str, bn_batches, valid_x, valid_y,
                            cfg.search.val_acc.batch_size, metric)
    scorer.description = description
    return scorer
