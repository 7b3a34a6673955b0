"""Datasets decoded once into uint8 tensors in memory, with batched augmentation on the device.

Builders: ``synthetic`` (procedural, no files), ``cifar10``/``cifar100`` (torchvision's format),
``imagefolder`` (any folder of class sub-folders, e.g. the offline CIFAR-10 JPEG copy) and
``imagenet16`` (NAS-Bench-201's ImageNet16 batches, read with a restricted unpickler). Training
images can be split into a seeded train/valid split or by a NAS-Bench-201 split file.

``InMemoryLoader`` yields augmented batches; every epoch's order and augmentation are derived from
``(seed, epoch)``, so an epoch replays identically after a resume.

``imagenet`` is the streaming path for folders too large for memory (``root/train/<class>/*`` and
``root/val/<class>/*``): torchvision ``ImageFolder``, per-image ImageNet augmentation in DataLoader
workers, seeded per ``(seed, epoch, image)`` so that it does not depend on the number of workers or
ranks; ``StreamLoader`` shards global batches over ranks exactly as ``InMemoryLoader`` does.
``build_training_data`` picks the right loader for a config.
"""
from __future__ import annotations

import hashlib
import logging
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
from .labels import LabelConfig, LabelGenerator, RandomLabelDataset, build_label_generator
from .seeding import derive_seed, torch_generator

logger = logging.getLogger("rlnas")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
CIFAR10_STATS = ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255))
CIFAR100_STATS = ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255))
IMAGENET16_STATS = ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255))
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


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
    root: Optional[str] = None  # where the dataset lies (see the module docstring)
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


def _read_cache(path: Path, count: int) -> Optional[dict]:
    """The decoded tensors cached at ``path``, or None when absent or unreadable (then decoded again)."""
    if not path.is_file():
        return None
    try:
        cached = torch.load(path, weights_only=True)
        if len(cached["images"]) == len(cached["targets"]) == count:
            return cached
    except Exception as error:  # a truncated or foreign file: the images are still there to decode
        logger.warning("ignoring the unreadable image cache %s (%s); decoding again", path, error)
        return None
    logger.warning("ignoring the image cache %s: it holds another image count; decoding again", path)
    return None


def _folder_set(folder: Path, cfg: DataConfig, classes: Optional[list[str]] = None) -> tuple[list[str], ImageSet]:
    found, files = _image_files(folder)
    if classes is not None and found != classes:
        raise UserError(f"{folder}: class folders differ from the training set's")
    cache = None
    if cfg.cache_dir:
        listing = "\n".join(f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p, _ in files)
        key = hashlib.sha256(f"{cfg.image_size}\n{listing}".encode()).hexdigest()[:20]
        cache = Path(cfg.cache_dir) / f"imagefolder-{key}.pt"
        cached = _read_cache(cache, len(files))
        if cached is not None:
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
    kept, held_out = holdout_split(len(train), cfg, seed)
    return (train, None) if held_out is None else (train.subset(kept), train.subset(held_out))


def holdout_split(n: int, cfg: DataConfig, seed: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Sorted indices ``(train, held_out)`` of ``n`` training images by ``valid_fraction`` or
    ``valid_size`` (a seeded draw); ``held_out`` is None when nothing is held out."""
    if cfg.valid_fraction == 0 and cfg.valid_size == 0:
        return torch.arange(n), None
    if cfg.valid_size >= n:
        raise UserError(f"data.valid_size: {cfg.valid_size} would hold out all {n} training images")
    generator = torch_generator(cfg.split_seed if cfg.split_seed is not None else seed, "split")
    order = torch.randperm(n, generator=generator)
    cut = n - cfg.valid_size if cfg.valid_size else round(n * (1 - cfg.valid_fraction))
    return order[:cut].sort().values, order[cut:].sort().values


def train_subset(count: int, cfg: DataConfig, seed: int) -> Optional[torch.Tensor]:
    """Sorted positions of a seeded ``data.max_train_images`` of ``count`` training images (None: all).
    Seeded, not the first N: image folders list their files class by class."""
    if cfg.max_train_images is None or cfg.max_train_images >= count:
        return None
    order = torch.randperm(count, generator=torch_generator(seed, "max_train_images"))
    return order[:cfg.max_train_images].sort().values


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    sample = images[: 20000].to(torch.float64) / 255
    return tuple(sample.mean(dim=(0, 2, 3)).tolist()), tuple(sample.std(dim=(0, 2, 3)).tolist())


def build_datasets(cfg: DataConfig, seed: int) -> Datasets:
    """The in-memory datasets of ``cfg`` (``imagenet`` streams instead: see ``build_image_folders``)."""
    test: Optional[ImageSet]
    if cfg.dataset == "imagenet":
        raise UserError("data.dataset: imagenet is streamed from disk, not loaded into memory "
                        "(use build_training_data / build_image_folders)")
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
    subset = train_subset(len(train), cfg, seed)
    if subset is not None:
        train = train.subset(subset)
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


def global_batches(n: int, global_batch: int, *, seed: int, epoch: int, shuffle: bool = True, drop_last: bool = False,
                   world_size: int = 1, even_shards: bool = False) -> list[torch.Tensor]:
    """The global batches of indices into ``n`` images for ``epoch``: the same on every rank.

    The order is drawn from ``(seed, epoch)``. A final partial batch is dropped with ``drop_last``;
    with ``even_shards`` (DDP training, where gradients are averaged over ranks) it is cut to a
    multiple of ``world_size`` so that every rank gets the same number of images.
    """
    order = torch.randperm(n, generator=torch_generator(seed, "shuffle", epoch)) if shuffle else torch.arange(n)
    batches = []
    for start in range(0, n, global_batch):
        chunk = order[start:start + global_batch]
        if len(chunk) < global_batch:
            if drop_last:
                break
            if even_shards:
                chunk = chunk[:len(chunk) - len(chunk) % world_size]
                if not len(chunk):
                    break
        batches.append(chunk)
    return batches


def rank_slice(size: int, rank: int, world_size: int) -> slice:
    """Rank ``rank``'s part of a global batch of ``size``: as even as possible (sizes differ by at
    most one; a rank may get none of a final partial batch), in rank order."""
    base, extra = divmod(size, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


class _ShardedBatches:
    """The batch plan shared by the loaders: ``global_batches`` of ``batch_size * world_size`` images
    drawn from ``(seed, epoch)``, of which rank ``rank`` takes its ``rank_slice``."""

    def __init__(self, data, batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
                 device: str | torch.device = "cpu", seed: int = 0, rank: int = 0, world_size: int = 1,
                 even_shards: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = torch.device(device)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.even_shards = even_shards

    def __len__(self) -> int:
        return _num_batches(len(self.data), self.batch_size, self.world_size, self.drop_last, self.even_shards)

    def _global(self, epoch: int) -> list[torch.Tensor]:
        return global_batches(len(self.data), self.batch_size * self.world_size, seed=self.seed, epoch=epoch,
                              shuffle=self.shuffle, drop_last=self.drop_last, world_size=self.world_size,
                              even_shards=self.even_shards)

    def indices(self, epoch: int) -> list[torch.Tensor]:
        """This rank's batches of indices for ``epoch``."""
        return [chunk[rank_slice(len(chunk), self.rank, self.world_size)] for chunk in self._global(epoch)]


class InMemoryLoader(_ShardedBatches):
    """Batches of an ImageSet: shuffled, labelled, augmented on ``device``; no per-image Python work.

    With ``world_size > 1`` it yields rank ``rank``'s part (``rank_slice``) of each global batch of
    ``batch_size * world_size`` images (``global_batches``); every rank gets the same number of batches.
    The augmentation of an image does not depend on the rank that reads it: the draws are made for
    the whole global batch from one ``(seed, epoch)`` stream and each rank keeps its part, so the
    ranks together see exactly the batches of a single process with the global batch size.
    """

    def __init__(self, data: ImageSet, batch_size: int, *, labels: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None,
                 augment: Optional[BatchAugment] = None, device: str | torch.device = "cpu", **batching):
        super().__init__(data, batch_size, device=device, **batching)
        self.labels = labels
        self.augment = augment
        if self.device.type == "cuda":  # uint8 images are small: keep them on the GPU, index there
            self.data = ImageSet(data.images.to(self.device), data.targets, data.num_classes)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch_generator(self.seed, "augment", epoch, 0) if self.augment is not None else None
        for chunk in self._global(epoch):
            part = rank_slice(len(chunk), self.rank, self.world_size)
            batch = chunk[part]
            images = self.data.images[batch.to(self.data.images.device)].to(self.device, non_blocking=True)
            labels = self.data.targets[batch] if self.labels is None else self.labels(batch, epoch)
            if generator is None:
                x = images.float().div_(255)
            else:  # draws for the whole global batch, this rank's part of them (see the class docstring)
                offsets, flips = self.augment.draw(len(chunk), generator)
                x = self.augment.apply(images, offsets[part], flips[part])
            yield x, labels.to(self.device, non_blocking=True)


# ------------------------------------------------------------------------ streaming image folders


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

    root = _require_root(cfg)
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


def _num_batches(n: int, batch_size: int, world_size: int, drop_last: bool, even_shards: bool) -> int:
    full, rest = divmod(n, batch_size * world_size)
    if drop_last or (even_shards and rest < world_size):
        return full
    return full + (1 if rest else 0)


class StreamLoader(_ShardedBatches):
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


def build_training_data(data: DataConfig, labels: LabelConfig, seed: int, batch_size: int, *,
                        device: str | torch.device = "cpu", drop_last: bool = False, rank: int = 0,
                        world_size: int = 1) -> tuple[object, LabelGenerator]:
    """The supernet's training loader (``batch_size`` images per rank, random labels) and its labels.

    In-memory datasets use ``InMemoryLoader`` with batched augmentation on the device; ``imagenet``
    streams through ``StreamLoader`` with ``RandomLabelDataset`` (which replaces the label
    ``ImageFolder`` returns). With several ranks the final partial global batch is cut so that every
    rank trains on as many images as the others (DDP averages their gradients).
    """
    even = world_size > 1
    if data.dataset == "imagenet":
        folders = build_image_folders(data, seed)
        generator = build_label_generator(labels, folders.train.targets, seed)
        loader = StreamLoader(RandomLabelDataset(folders.train, generator), batch_size, shuffle=True,
                              drop_last=drop_last, device=device, seed=seed, rank=rank, world_size=world_size,
                              even_shards=even, num_workers=data.imagenet.num_workers)
        return loader, generator
    datasets = build_datasets(data, seed)
    generator = build_label_generator(labels, datasets.train.targets, seed)
    augment = BatchAugment(datasets.mean, datasets.std, data.augment.crop_padding, data.augment.flip)
    loader = InMemoryLoader(datasets.train, batch_size, labels=generator.labels, shuffle=True, drop_last=drop_last,
                            augment=augment, device=device, seed=seed, rank=rank, world_size=world_size,
                            even_shards=even)
    return loader, generator
