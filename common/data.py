"""Datasets decoded once into uint8 tensors in memory, with batched augmentation on the device.

Builders: ``synthetic`` (procedural, no files), ``cifar10``/``cifar100`` (torchvision's format),
``imagefolder`` (any folder of class sub-folders, e.g. the offline CIFAR-10 JPEG copy) and
``imagenet16`` (NAS-Bench-201's ImageNet16 batches, read with a restricted unpickler). Training
images can be split into a seeded train/valid split or by a NAS-Bench-201 split file.

``InMemoryLoader`` yields augmented batches; every epoch's order and augmentation are derived from
``(seed, epoch)``, so an epoch replays identically after a resume.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import atomic_torch_save
from .errors import UserError
from .seeding import torch_generator

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
CIFAR10_STATS = ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255))
CIFAR100_STATS = ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255))
IMAGENET16_STATS = ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255))


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
class DataConfig:
    dataset: Literal["synthetic", "cifar10", "cifar100", "imagefolder", "imagenet16"] = "synthetic"
    root: Optional[str] = None  # where the dataset lies (see the module docstring)
    download: bool = False  # torchvision download, only when asked for
    num_classes: Optional[int] = None  # imagenet16: keep original classes 1..N (NB201: 120)
    valid_fraction: float = 0.0  # share of the training images held out by a seeded split
    split_file: Optional[str] = None  # NB201 split file with train/valid indices (overrides valid_fraction)
    split_seed: Optional[int] = None  # None: the experiment seed
    max_train_images: Optional[int] = None  # keep only the first N training images (quick runs)
    image_size: Optional[int] = None  # imagefolder: resize to this square size; None: native size
    cache_dir: Optional[str] = None  # imagefolder: cache of the decoded tensors
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self):
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if self.max_train_images is not None and self.max_train_images < 1:
            raise ValueError("max_train_images must be positive")


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8, N x C x H x W
    targets: torch.Tensor  # int64, N, true labels in 0..num_classes-1
    num_classes: int

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, indices) -> "ImageSet":
        indices = torch.as_tensor(indices, dtype=torch.int64)
        return ImageSet(self.images[indices].contiguous(), self.targets[indices].clone(), self.num_classes)


@dataclass
class Datasets:
    train: ImageSet  # what the supernet trains on
    valid: Optional[ImageSet]  # held-out part of the training images
    test: Optional[ImageSet]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


# ----------------------------------------------------------------------------- builders


def _synthetic(cfg: SyntheticConfig) -> tuple[ImageSet, ImageSet, tuple, tuple]:
    """Class prototypes are smooth random colour patterns; images are shifted, noisy copies."""
    generator = torch.Generator().manual_seed(cfg.seed)
    size, classes = cfg.image_size, cfg.num_classes
    coarse = torch.rand(classes, 3, 4, 4, generator=generator)
    prototypes = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)

    def make(count: int) -> ImageSet:
        targets = torch.randint(classes, (count,), generator=generator)
        shifts = torch.randint(-size // 8, size // 8 + 1, (count, 2), generator=generator)
        images = prototypes[targets]
        if count:
            images = torch.stack([torch.roll(img, (int(dy), int(dx)), dims=(1, 2)) for img, (dy, dx) in zip(images, shifts)])
        images = images + 0.15 * torch.randn(images.shape, generator=generator)
        return ImageSet((images.clamp(0, 1) * 255).round().to(torch.uint8), targets, classes)

    return make(cfg.num_images), make(cfg.num_test_images), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _require_root(cfg: DataConfig) -> Path:
    if not cfg.root:
        raise UserError(f"data.root: required for dataset '{cfg.dataset}'")
    root = Path(cfg.root)
    if not root.exists() and not (cfg.download and cfg.dataset in ("cifar10", "cifar100")):
        raise UserError(f"data.root: folder not found: {root}")
    return root


def _cifar(cfg: DataConfig) -> tuple[ImageSet, ImageSet]:
    import torchvision

    root = _require_root(cfg)
    cls = torchvision.datasets.CIFAR10 if cfg.dataset == "cifar10" else torchvision.datasets.CIFAR100
    classes = 10 if cfg.dataset == "cifar10" else 100
    sets = []
    for train in (True, False):
        try:
            dataset = cls(str(root), train=train, download=cfg.download)
        except (RuntimeError, OSError) as error:  # torchvision: missing or corrupt files
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UserError(f"data.root: no {cfg.dataset} in torchvision's format under {root} ({reason}); "
                            "set data.root or data.download: true") from None
        images = torch.from_numpy(np.asarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
        sets.append(ImageSet(images, torch.tensor(dataset.targets, dtype=torch.int64), classes))
    return sets[0], sets[1]


def _image_files(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    if not classes:
        raise UserError(f"data.root: no class sub-folders in {folder}")
    files = []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).rglob("*")):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                files.append((path, label))
    if not files:
        raise UserError(f"data.root: no images in {folder}")
    return classes, files


def _decode(files: Sequence[tuple[Path, int]], size: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import Image, UnidentifiedImageError

    images = []
    for path, _ in files:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if size is not None and image.size != (size, size):
                    image = image.resize((size, size), Image.BILINEAR)
                images.append(np.asarray(image))
        except (OSError, UnidentifiedImageError):
            raise UserError(f"{path}: not a readable image") from None
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise UserError(f"data.image_size: images differ in size ({sorted(shapes)[:3]}...); set data.image_size")
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return stacked, torch.tensor([label for _, label in files], dtype=torch.int64)


def _folder_set(folder: Path, cfg: DataConfig, classes: Optional[list[str]] = None) -> tuple[list[str], ImageSet]:
    found, files = _image_files(folder)
    if classes is not None and found != classes:
        raise UserError(f"{folder}: class folders differ from the training set's")
    cache = None
    if cfg.cache_dir:
        listing = "\n".join(f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p, _ in files)
        key = hashlib.sha256(f"{cfg.image_size}\n{listing}".encode()).hexdigest()[:20]
        cache = Path(cfg.cache_dir) / f"imagefolder-{key}.pt"
        if cache.is_file():
            cached = torch.load(cache, weights_only=True)
            return found, ImageSet(cached["images"], cached["targets"], len(found))
    images, targets = _decode(files, cfg.image_size)
    if cache is not None:
        atomic_torch_save(cache, {"images": images, "targets": targets})
    return found, ImageSet(images, targets, len(found))


def _imagefolder(cfg: DataConfig) -> tuple[ImageSet, Optional[ImageSet]]:
    root = _require_root(cfg)
    train_dir = root / "train" if (root / "train").is_dir() else root
    classes, train = _folder_set(train_dir, cfg)
    test = _folder_set(root / "test", cfg, classes)[1] if train_dir != root and (root / "test").is_dir() else None
    return train, test


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else: the ImageNet16 files come from elsewhere."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"), ("copy_reg", "_reconstructor"),
               ("copyreg", "_reconstructor"), ("__builtin__", "object"), ("builtins", "object")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def load_numpy_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            data = _NumpyOnlyUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: not an ImageNet16 batch file ({error})") from None
    if not isinstance(data, dict) or "data" not in data or "labels" not in data:
        raise UserError(f"{path}: not an ImageNet16 batch file (expected a dict with 'data' and 'labels')")
    return data


def _imagenet16(cfg: DataConfig) -> tuple[ImageSet, ImageSet]:
    root = _require_root(cfg)
    keep = cfg.num_classes

    def read(names: Sequence[str]) -> ImageSet:
        parts, labels = [], []
        for name in names:
            path = root / name
            if not path.is_file():
                raise UserError(f"data.root: {path} not found (expected the NAS-Bench-201 ImageNet16 files)")
            batch = load_numpy_pickle(path)
            parts.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 16, 16))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        images, targets = torch.from_numpy(np.concatenate(parts)), torch.from_numpy(np.concatenate(labels))
        classes = int(targets.max())
        if keep is not None:
            mask = targets <= keep
            images, targets, classes = images[mask], targets[mask], keep
        return ImageSet(images.contiguous(), targets - 1, classes)  # labels in the files are 1-based

    train = read([f"train_data_batch_{i}" for i in range(1, 11)])
    return train, read(["val_data"])


def _split(train: ImageSet, cfg: DataConfig, seed: int) -> tuple[ImageSet, Optional[ImageSet]]:
    if cfg.split_file:
        path = Path(cfg.split_file)
        try:
            spec = json.loads(path.read_text())
            indices = {part: [int(i) for i in spec[part][1]] for part in ("train", "valid")}
        except FileNotFoundError:
            raise UserError(f"data.split_file: file not found: {path}") from None
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
            raise UserError(f"data.split_file: {path} is not a NAS-Bench-201 split file") from None
        every = indices["train"] + indices["valid"]
        if min(every) < 0 or max(every) >= len(train) or len(set(every)) != len(every):
            raise UserError(f"data.split_file: {path} does not split {len(train)} images into disjoint parts")
        return train.subset(indices["train"]), train.subset(indices["valid"])
    if cfg.valid_fraction == 0:
        return train, None
    generator = torch_generator(cfg.split_seed if cfg.split_seed is not None else seed, "split")
    order = torch.randperm(len(train), generator=generator)
    cut = round(len(train) * (1 - cfg.valid_fraction))
    return train.subset(order[:cut].sort().values), train.subset(order[cut:].sort().values)


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    sample = images[: 20000].to(torch.float64) / 255
    return tuple(sample.mean(dim=(0, 2, 3)).tolist()), tuple(sample.std(dim=(0, 2, 3)).tolist())


def build_datasets(cfg: DataConfig, seed: int) -> Datasets:
    test: Optional[ImageSet]
    if cfg.dataset == "synthetic":
        train, test, mean, std = _synthetic(cfg.synthetic)
    elif cfg.dataset in ("cifar10", "cifar100"):
        train, test = _cifar(cfg)
        mean, std = CIFAR10_STATS if cfg.dataset == "cifar10" else CIFAR100_STATS
    elif cfg.dataset == "imagefolder":
        train, test = _imagefolder(cfg)
        mean, std = _channel_stats(train.images)
    else:
        train, test = _imagenet16(cfg)
        mean, std = IMAGENET16_STATS
    if cfg.num_classes is not None and cfg.num_classes != train.num_classes:
        raise UserError(f"data.num_classes: {cfg.num_classes}, but {cfg.dataset} has {train.num_classes} classes")
    train, valid = _split(train, cfg, seed)
    if cfg.max_train_images is not None:
        train = train.subset(torch.arange(min(cfg.max_train_images, len(train))))
    mean = tuple(cfg.augment.mean) if cfg.augment.mean is not None else tuple(mean)
    std = tuple(cfg.augment.std) if cfg.augment.std is not None else tuple(std)
    return Datasets(train, valid, test, train.num_classes, mean, std)


# ------------------------------------------------------------------------ augmentation


class BatchAugment:
    """Random crop with zero padding, horizontal flip and normalisation of a uint8 batch, on its device."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], crop_padding: int = 0, flip: bool = False):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.crop_padding = crop_padding
        self.flip = flip

    def draw(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop offsets ``(batch, 2)`` in ``[0, 2 * padding]`` (drawn first), then flip flags ``(batch,)``."""
        offsets = torch.randint(0, 2 * self.crop_padding + 1, (batch, 2), generator=generator)
        flips = torch.rand(batch, generator=generator) < 0.5 if self.flip else torch.zeros(batch, dtype=torch.bool)
        return offsets, flips

    def apply(self, images: torch.Tensor, offsets: Optional[torch.Tensor], flips: Optional[torch.Tensor]) -> torch.Tensor:
        if offsets is not None and self.crop_padding > 0:
            n, _, h, w = images.shape
            p = self.crop_padding
            padded = F.pad(images, (p, p, p, p))
            offsets = offsets.to(images.device)
            rows = (offsets[:, 0:1] + torch.arange(h, device=images.device))[:, None, :, None]
            cols = (offsets[:, 1:2] + torch.arange(w, device=images.device))[:, None, None, :]
            batch = torch.arange(n, device=images.device)[:, None, None, None]
            channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
            images = padded[batch, channel, rows, cols]
        if flips is not None and self.flip:
            flips = flips.to(images.device)[:, None, None, None]
            images = torch.where(flips, images.flip(3), images)
        x = images.float().div_(255)
        if self.mean.device != x.device:
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        return (x - self.mean) / self.std

    def __call__(self, images: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        if generator is None:
            return self.apply(images, None, None)
        return self.apply(images, *self.draw(len(images), generator))


class InMemoryLoader:
    """Batches of an ImageSet: shuffled, labelled, augmented on ``device``; no per-image Python work."""

    def __init__(self, data: ImageSet, batch_size: int, *, labels: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None,
                 shuffle: bool = True, drop_last: bool = False, augment: Optional[BatchAugment] = None,
                 device: str | torch.device = "cpu", seed: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.data = data
        self.batch_size = batch_size
        self.labels = labels
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.augment = augment
        self.device = torch.device(device)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        if self.device.type == "cuda":  # uint8 images are small: keep them on the GPU, index there
            self.data = ImageSet(data.images.to(self.device), data.targets, data.num_classes)

    def __len__(self) -> int:
        global_batch = self.batch_size * self.world_size
        full, rest = divmod(len(self.data), global_batch)
        return full + (1 if rest > self.rank * self.batch_size and not self.drop_last else 0)

    def indices(self, epoch: int) -> list[torch.Tensor]:
        """This rank's batches of image indices for ``epoch``."""
        n = len(self.data)
        order = torch.randperm(n, generator=torch_generator(self.seed, "shuffle", epoch)) if self.shuffle else torch.arange(n)
        global_batch = self.batch_size * self.world_size
        batches = []
        for start in range(0, n, global_batch):
            chunk = order[start:start + global_batch]
            if len(chunk) < global_batch and self.drop_last:
                break
            mine = chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
            if len(mine):
                batches.append(mine)
        return batches

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch_generator(self.seed, "augment", epoch, self.rank) if self.augment is not None else None
        for batch in self.indices(epoch):
            images = self.data.images[batch.to(self.data.images.device)].to(self.device)
            labels = self.data.targets[batch] if self.labels is None else self.labels(batch, epoch)
            x = self.augment(images, generator) if self.augment is not None else images.float().div_(255)
            yield x, labels.to(self.device)
