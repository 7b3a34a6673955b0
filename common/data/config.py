"""The ``data`` section of an experiment config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional


@dataclass
class AugmentConfig:
    crop_padding: int = 4  # random crop of the native size after zero padding; 0 = no crop
    flip: bool = True  # random horizontal flip with probability 0.5
    mean: Optional[list[float]] = None  # per-channel mean in [0, 1]; None: the dataset's default
    std: Optional[list[float]] = None

    def __post_init__(self):
        if self.crop_padding < 0:
            raise ValueError("crop_padding must be >= 0")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None and len(value) != 3:
                raise ValueError(f"{name} needs 3 values (one per channel)")


@dataclass
class SyntheticConfig:
    num_images: int = 512
    num_test_images: int = 128
    num_classes: int = 10
    image_size: int = 32
    seed: int = 0  # the images depend on this seed only, not on the experiment seed

    def __post_init__(self):
        if min(self.num_images, self.num_classes, self.image_size) < 1 or self.num_test_images < 0:
            raise ValueError("synthetic sizes must be positive")


@dataclass
class ImageNetConfig:
    """The streaming ``imagenet`` dataset: augmentation sizes and loader workers."""

    crop_size: int = 224  # training: RandomResizedCrop to this size; validation: centre crop of this size
    resize_size: int = 256  # validation: shorter side resized to this before the centre crop
    min_scale: float = 0.08  # RandomResizedCrop area range (min_scale, 1)
    color_jitter: float = 0.0  # brightness, contrast and saturation jitter strength; 0 = off
    num_workers: int = 4  # DataLoader worker processes per rank (0: decode in the training process)

    def __post_init__(self):
        if self.crop_size < 1 or self.resize_size < self.crop_size:
            raise ValueError("need 1 <= crop_size <= resize_size")
        if not 0 < self.min_scale <= 1 or self.color_jitter < 0 or self.num_workers < 0:
            raise ValueError("need 0 < min_scale <= 1, color_jitter >= 0 and num_workers >= 0")


@dataclass
class DataConfig:
    dataset: Literal["synthetic", "cifar10", "cifar100", "imagefolder", "imagenet16", "imagenet"] = "synthetic"
    root: Optional[str] = None  # where the dataset lies (see ``common.data``'s docstring)
    download: bool = False  # torchvision download, only when asked for
    num_classes: Optional[int] = None  # imagenet16: keep original classes 1..N (NB201: 120)
    valid_fraction: float = 0.0  # share of the training images held out by a seeded split
    valid_size: int = 0  # or: this many training images held out by a seeded split (e.g. 50000 on ImageNet)
    split_file: Optional[str] = None  # NB201 split file with train/valid indices (overrides valid_fraction)
    split_seed: Optional[int] = None  # None: the experiment seed
    max_train_images: Optional[int] = None  # keep a seeded N of the training images (quick runs)
    image_size: Optional[int] = None  # imagefolder: resize to this square size; None: native size
    cache_dir: Optional[str] = None  # imagefolder: cache of the decoded tensors
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    imagenet: ImageNetConfig = field(default_factory=ImageNetConfig)

    def __post_init__(self):
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if self.valid_size < 0 or (self.valid_size and self.valid_fraction):
            raise ValueError("valid_size must be >= 0, and only one of valid_size and valid_fraction may be set")
        if self.max_train_images is not None and self.max_train_images < 1:
            raise ValueError("max_train_images must be positive")
