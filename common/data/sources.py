"""In-memory datasets: images decoded once into uint8 tensors, with their true labels and splits.

Readers: ``synthetic`` (procedural, no files), ``cifar10``/``cifar100`` (torchvision's format),
``imagefolder`` (any folder of class sub-folders, e.g. the offline CIFAR-10 JPEG copy; decoded
tensors optionally cached) and ``imagenet16`` (NAS-Bench-201's ImageNet16 batches, read with a
restricted unpickler). Training images can be split into a seeded train/valid split or by a
NAS-Bench-201 split file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import atomic_torch_save
from ..config import require_env
from ..errors import UserError
from .config import DataConfig, SyntheticConfig
from .splits import holdout_split, train_subset

logger = logging.getLogger("rlnas")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
CIFAR10_STATS = ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255))
CIFAR100_STATS = ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255))
IMAGENET16_STATS = ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255))


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


def require_root(cfg: DataConfig) -> Path:
    if not require_env(cfg.root, "data.root"):
        raise UserError(f"data.root: required for dataset '{cfg.dataset}'")
    root = Path(cfg.root)
    if not root.exists() and not (cfg.download and cfg.dataset in ("cifar10", "cifar100")):
        raise UserError(f"data.root: folder not found: {root}")
    return root


def _cifar(cfg: DataConfig) -> tuple[ImageSet, ImageSet]:
    import torchvision

    root = require_root(cfg)
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
        cache = Path(require_env(cfg.cache_dir, "data.cache_dir")) / f"imagefolder-{key}.pt"
        cached = _read_cache(cache, len(files))
        if cached is not None:
            return found, ImageSet(cached["images"], cached["targets"], len(found))
    images, targets = _decode(files, cfg.image_size)
    if cache is not None:
        atomic_torch_save(cache, {"images": images, "targets": targets})
    return found, ImageSet(images, targets, len(found))


def _imagefolder(cfg: DataConfig) -> tuple[ImageSet, Optional[ImageSet]]:
    root = require_root(cfg)
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
    root = require_root(cfg)
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
        path = Path(require_env(cfg.split_file, "data.split_file"))
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

