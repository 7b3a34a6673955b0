"""Checkpoints: atomic writes, safe loads (``weights_only=True``), format and space checks.

A checkpoint is a dict ``{format, space, config, epoch, model, optimizer, scheduler, rng, ...}``
(docs/design.md section 3). Files are written to a temporary name in the same directory, flushed, fsynced
and renamed over the target, so a crash never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import UserError

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "space", "config", "epoch", "model")
RUN_KEYS = ("seed", "data", "labels", "model", "train")  # the config sections that make the trained weights


class UnreadableCheckpoint(UserError):
    """A checkpoint file that cannot be loaded at all (truncated, foreign, or holding objects)."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_mode() -> int:
    """The mode ``open`` would give a new file (mkstemp's 0600 would hide results from co-workers)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` of ``obj`` to ``path``, written atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically; it must carry the keys of docs/design.md section 3."""
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    atomic_torch_save(path, payload)


def load_checkpoint(path: str | os.PathLike, space: str | None = None, map_location: str | torch.device = "cpu",
                    mmap: bool = False) -> dict:
    """Load a checkpoint safely; a missing file, a foreign file or another space's file is a UserError.

    ``mmap=True`` maps the tensors instead of reading them (cheap when only the metadata is needed)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles; the error below says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error) or "unsupported GLOBAL" in str(error):
            raise UnreadableCheckpoint(
                f"{path}: the file holds Python objects other than tensors and plain values; it was not "
                "loaded (only checkpoints written by this project are read)") from None
        raise UnreadableCheckpoint(f"{path}: not a readable checkpoint (not a PyTorch checkpoint, or damaged); "
                                   "it was not loaded") from None
    except Exception as error:  # torch raises assorted types for truncated or foreign files
        size = path.stat().st_size
        raise UnreadableCheckpoint(
            f"{path}: not a readable checkpoint ({size} bytes; truncated, damaged or not a PyTorch file: "
            f"{type(error).__name__})") from None
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED_KEYS):
        raise UserError(f"{path}: not an RLNAS checkpoint (expected keys {', '.join(REQUIRED_KEYS)})")
    if payload["format"] != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format {payload['format']} is not supported (expected {FORMAT_VERSION})")
    if space is not None and payload["space"] != space:
        raise UserError(f"{path}: checkpoint of search space '{payload['space']}', expected '{space}'")
    return payload


def file_digest(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes: what a result records about the checkpoint it used."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_record(path: str | os.PathLike, payload: dict | None = None) -> dict:
    """What a result records about a checkpoint it used: ``{path, epoch, sha256}``."""
    path = Path(path)
    payload = payload if payload is not None else load_checkpoint(path, mmap=True)
    return {"path": str(path.resolve()), "epoch": int(payload["epoch"]), "sha256": file_digest(path)}


def rng_states() -> dict:
    """torch's global random states (CPU, and every CUDA device when present), for a checkpoint."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Undo ``rng_states``: a resumed run draws what the uninterrupted one would have drawn."""
    if "torch" in states:
        torch.set_rng_state(states["torch"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
