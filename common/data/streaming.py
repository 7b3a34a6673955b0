"""The streaming ``imagenet`` path, for image folders too large for memory.

``root/train/<class>/*`` and ``root/val/<class>/*`` are read by torchvision's ``ImageFolder`` and
augmented per image in DataLoader workers, seeded per ``(seed, epoch, image)`` so that the result
does not depend on the number of workers or ranks; ``StreamLoader`` shards the global batches over
ranks exactly as ``InMemoryLoader`` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch

from ..errors import UserError
from ..seeding import derive_seed
from .config import DataConfig
from .loaders import ShardedBatches
from .sources import require_root
from .splits import holdout_split, train_subset

IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class FolderImages(torch.utils.data.Dataset):
    """``(image tensor, true label)`` of some images of an ``ImageFolder``, decoded and transformed
    on access. The transform's randomness is seeded per ``(seed, epoch, index)``: an image gets the
    same augmentation whichever worker or rank reads it, and an epoch replays after a resume."""

    def __init__(self, folder, indices: Optional[torch.Tensor], transform: Callable, seed: int):
        self.samples = folder.samples if indices is None else [folder.samples[i] for i in indices.tolist()]
        self.targets = [target for _, target in self.samples]
        self.loader = folder.loader
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        try:
            image = self.loader(path)
        except OSError:
            raise UserError(f"{path}: not a readable image") from None
        with torch.random.fork_rng(devices=[]):  # leave the caller's generator alone
            torch.manual_seed(derive_seed(self.seed, "augment", self.epoch, index))
            return self.transform(image), target


@dataclass
class ImageFolders:
    train: FolderImages  # training transform
    valid: Optional[FolderImages]  # held-out training images (``valid_size``), evaluation transform
    test: Optional[FolderImages]  # ``root/val``, evaluation transform
    num_classes: int
    classes: list[str]


def imagenet_transforms(cfg: DataConfig) -> tuple[Callable, Callable]:
    """Training (RandomResizedCrop, flip, optional colour jitter) and evaluation (resize, centre crop)
    transforms, both ending in ToTensor and normalisation."""
    from torchvision import transforms as T

    size = cfg.imagenet
    mean = tuple(cfg.augment.mean) if cfg.augment.mean is not None else IMAGENET_STATS[0]
    std = tuple(cfg.augment.std) if cfg.augment.std is not None else IMAGENET_STATS[1]
    train = [T.RandomResizedCrop(size.crop_size, scale=(size.min_scale, 1.0))]
    if cfg.augment.flip:
        train.append(T.RandomHorizontalFlip())
    if size.color_jitter > 0:
        train.append(T.ColorJitter(size.color_jitter, size.color_jitter, size.color_jitter))
    tail = [T.ToTensor(), T.Normalize(mean, std)]
    evaluation = [T.Resize(size.resize_size), T.CenterCrop(size.crop_size)]
    return T.Compose(train + tail), T.Compose(evaluation + tail)


def build_image_folders(cfg: DataConfig, seed: int) -> ImageFolders:
    """The ``imagenet`` dataset of ``cfg``: ``root/train`` (minus ``valid_size`` held-out images) and
    ``root/val`` when present, as lazily decoded datasets."""
    from torchvision.datasets import ImageFolder

    root = require_root(cfg)
    if not (root / "train").is_dir():
        raise UserError(f"data.root: {root} has no train/ folder of class sub-folders")

    def scan(folder: Path):
        try:
            return ImageFolder(str(folder))
        except (FileNotFoundError, RuntimeError) as error:  # no class folders, or no images in them
            raise UserError(f"data.root: {folder}: {str(error).splitlines()[0]}") from None

    train_folder = scan(root / "train")
    if cfg.num_classes is not None and cfg.num_classes != len(train_folder.classes):
        raise UserError(f"data.num_classes: {cfg.num_classes}, but {root / 'train'} has {len(train_folder.classes)} classes")
    train_transform, eval_transform = imagenet_transforms(cfg)
    kept, held_out = holdout_split(len(train_folder), cfg, seed)
    subset = train_subset(len(kept), cfg, seed)
    if subset is not None:
        kept = kept[subset]
    test = None
    if (root / "val").is_dir():
        val_folder = scan(root / "val")
        if val_folder.classes != train_folder.classes:
            raise UserError(f"{root / 'val'}: class folders differ from the training set's")
        test = FolderImages(val_folder, None, eval_transform, seed)
    return ImageFolders(FolderImages(train_folder, kept, train_transform, seed),
                        None if held_out is None else FolderImages(train_folder, held_out, eval_transform, seed),
                        test, len(train_folder.classes), list(train_folder.classes))



class StreamLoader(ShardedBatches):
    """Batches of a map-style dataset (e.g. ``FolderImages``, optionally wrapped in a
    ``RandomLabelDataset``) read by a torch DataLoader with workers, on ``device``.

    The batches of each rank are those of ``InMemoryLoader`` (``global_batches`` + ``rank_slice``),
    so rank r reads its shard of every global batch, and ``len`` is the same on all ranks.
    """

    def __init__(self, dataset, batch_size: int, *, num_workers: int = 4, **batching):
        super().__init__(dataset, batch_size, **batching)
        self.num_workers = num_workers

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        dataset = self.data
        while dataset is not None:  # the label wrapper and the images both follow the epoch
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            dataset = getattr(dataset, "dataset", None)
        batches = [batch.tolist() for batch in self.indices(epoch)]
        wanted = [batch for batch in batches if batch]
        pin = self.device.type == "cuda"
        # workers are started per epoch, so that they see the epoch set above
        loader = torch.utils.data.DataLoader(self.data, batch_sampler=wanted, num_workers=self.num_workers,
                                             pin_memory=pin, generator=torch.Generator().manual_seed(0))
        batches_out = iter(loader)
        empty = None
        for batch in batches:
            if batch:
                images, labels = next(batches_out)
                empty = (images[:0], labels[:0])
                yield images.to(self.device, non_blocking=pin), labels.to(self.device, non_blocking=pin)
            else:  # a rank's empty share of a final partial batch (evaluation only)
                if empty is None:
                    image, label = self.data[0]
                    empty = (torch.empty((0, *image.shape)), torch.empty(0, dtype=torch.int64))
                yield empty[0].to(self.device), empty[1].to(self.device)

