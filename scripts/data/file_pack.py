"""Pack a folder of files (e.g. an image folder of small JPEGs) into one ``.npz`` and back.

    python scripts/data/file_pack.py pack FOLDER OUT.npz
    python scripts/data/file_pack.py unpack PACK.npz FOLDER

One file instead of tens of thousands travels well (the offline CIFAR-10 ``train/`` folder: 50,000
JPEGs, 46 MB of bytes, is one 47 MB file). The pack holds the files' bytes back to back, their
offsets and their relative paths: numpy arrays only, read without pickle. ``unpack`` writes every file
back byte for byte (atomically: a half-written folder is never left under FOLDER), refuses paths
that would leave FOLDER, and does nothing when FOLDER already holds the pack's files.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/data/X.py from anywhere

from common.cli import ArgumentParser, run  # noqa: E402
from common.errors import UserError  # noqa: E402


def pack(folder: Path, out: Path) -> int:
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise UserError(f"{folder}: no files to pack")
    blobs = [path.read_bytes() for path in files]
    offsets = np.cumsum([0] + [len(blob) for blob in blobs]).astype(np.int64)
    paths = np.array([path.relative_to(folder).as_posix() for path in files])
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, data=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets, paths=paths)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, out)
    return len(files)


def read_pack(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    try:
        with np.load(path, allow_pickle=False) as pack_file:
            data, offsets, paths = pack_file["data"], pack_file["offsets"], [str(p) for p in pack_file["paths"]]
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{path}: not a file pack ({error})") from None
    if data.dtype != np.uint8 or len(offsets) != len(paths) + 1 or offsets[0] != 0 or offsets[-1] != len(data) \
            or np.any(np.diff(offsets) < 0):
        raise UserError(f"{path}: not a file pack (inconsistent offsets)")
    for name in paths:
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
            raise UserError(f"{path}: refuses the path {name!r} (it would leave the target folder)")
    return data, offsets, paths


def unpack(path: Path, folder: Path) -> int:
    data, offsets, paths = read_pack(path)
    if folder.is_dir() and sum(1 for p in folder.rglob("*") if p.is_file()) == len(paths) and all(
            (folder / name).is_file() and (folder / name).stat().st_size == offsets[i + 1] - offsets[i]
            for i, name in enumerate(paths)):
        return 0
    if folder.exists():
        raise UserError(f"{folder}: exists and does not hold this pack's files (move it away first)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        for i, name in enumerate(paths):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[offsets[i]:offsets[i + 1]].tobytes())
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(paths)


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.action == "pack":
        print(f"packed {pack(args.source, args.target)} files into {args.target}")
    else:
        count = unpack(args.source, args.target)
        print(f"unpacked {count} files into {args.target}" if count else f"{args.target} already holds the pack's files")


if __name__ == "__main__":
    sys.exit(run(main))
