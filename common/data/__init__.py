"""Datasets and loaders.

- ``config``: the ``data`` section (``DataConfig`` and its ``augment``, ``synthetic``, ``imagenet`` parts);
- ``sources``: datasets decoded once into uint8 tensors in memory (``synthetic``, ``cifar10``/``cifar100``,
  ``imagefolder``, ``imagenet16``) with their validation split (``splits``);
- ``augment``: batched crop, flip and normalisation on the device;
- ``loaders``: the batch plan every loader shares (order and augmentation from ``(seed, epoch)``,
  so an epoch replays after a resume; DDP ranks read shards of the same global batches) and
  ``InMemoryLoader``;
- ``streaming``: ``imagenet``, image folders too large for memory, decoded and augmented per image
  in DataLoader workers (``StreamLoader``);
- ``factory``: ``build_loaders``, the one place that picks the loaders for a config.
"""
from .augment import BatchAugment
from .config import AugmentConfig, DataConfig, ImageNetConfig, SyntheticConfig
from .factory import Loaders, build_loaders, build_training_data
from .loaders import InMemoryLoader, global_batches, rank_slice
from .sources import Datasets, ImageSet, build_datasets, load_numpy_pickle
from .splits import holdout_split, train_subset
from .streaming import FolderImages, ImageFolders, StreamLoader, build_image_folders, imagenet_transforms

__all__ = ["AugmentConfig", "BatchAugment", "DataConfig", "Datasets", "FolderImages", "ImageFolders", "ImageNetConfig",
           "ImageSet", "InMemoryLoader", "Loaders", "StreamLoader", "SyntheticConfig", "build_datasets",
           "build_image_folders", "build_loaders", "build_training_data", "global_batches", "holdout_split",
           "imagenet_transforms", "load_numpy_pickle", "rank_slice", "train_subset"]
