"""Bad input through every entry point: one stderr line, exit code 2, no traceback, nothing written.

Each case runs a real command in a subprocess from a scratch folder and compares the folder (and the
files the case points at) before and after. A new entry point joins by one line in ``ENTRY_POINTS``:
it then gets every generic case; ``CASES`` holds the cases specific to one command.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

# name -> (command, takes --config). Modules run as ``python -m``; ``.sh`` names are the wrappers.
ENTRY_POINTS: dict[str, tuple[list[str], bool]] = {
    "nb201.train_supernet": (["-m", "nas_bench_201.train_supernet"], True),
    "nb201.search": (["-m", "nas_bench_201.search"], True),
    "nb201.worker": (["-m", "nas_bench_201.worker"], True),
    "nb201.correlation": (["-m", "nas_bench_201.correlation"], True),
    "nb201.pipeline": (["-m", "nas_bench_201.pipeline"], True),
    "nb201.retrain": (["-m", "nas_bench_201.retrain"], True),
    "nb201.angles": (["-m", "nas_bench_201.angles"], False),
    "nb201.info": (["-m", "nas_bench_201.info"], False),
    "nb201.convert_benchmark": (["-m", "nas_bench_201.convert_benchmark"], False),
    "nb201.reproduce": (["-m", "nas_bench_201.reproduce"], False),
    "darts.train_supernet": (["-m", "darts_search_space.train_supernet"], True),
    "darts.search": (["-m", "darts_search_space.search"], True),
    "darts.worker": (["-m", "darts_search_space.worker"], True),
    "darts.retrain": (["-m", "darts_search_space.retrain"], True),
    "darts.flops": (["-m", "darts_search_space.flops"], False),
    "darts.draw": (["-m", "darts_search_space.draw"], False),
    "mobilenet.train_supernet": (["-m", "mobilenet_search_space.train_supernet"], True),
    "mobilenet.search": (["-m", "mobilenet_search_space.search"], True),
    "mobilenet.worker": (["-m", "mobilenet_search_space.worker"], True),
    "mobilenet.retrain": (["-m", "mobilenet_search_space.retrain"], True),
    "mobilenet.flops": (["-m", "mobilenet_search_space.flops"], False),
    "mobilenet.draw": (["-m", "mobilenet_search_space.draw"], False),
    "stages.search": (["-m", "common.stages", "search", "--space", "examples.chain_space"], True),
    "nb201.search.sh": (["scripts/nas_bench_201/search.sh"], True),
    "darts.train_supernet.sh": (["scripts/darts/train_supernet.sh"], True),
    "mobilenet.flops.sh": (["scripts/mobilenet/flops.sh"], False),
}
# Every other wrapper in scripts/ gets the generic unknown-option case (they only forward arguments).
for _wrapper in sorted((ROOT / "scripts").glob("*/*.sh")):
    _name = str(_wrapper.relative_to(ROOT))
    if not any(command == [_name] for command, _ in ENTRY_POINTS.values()):
        ENTRY_POINTS[_name] = ([_name], False)

NB201_QUICK = str(CONFIGS / "nas_bench_201" / "quickstart.yaml")
DARTS_GENOTYPE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
)


@dataclass
class Case:
    entry: str
    args: list[str]
    expect: str                       # a fragment the error line must contain
    setup: Callable[[Path], None] | None = None


def _write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return setup


def _mkdir(name: str, mode: int | None = None) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).mkdir(parents=True, exist_ok=True)
        if mode is not None:
            os.chmod(tmp / name, mode)
    return setup


def _generic_cases() -> list[Case]:
    cases = []
    for entry, (_, takes_config) in ENTRY_POINTS.items():
        ddp = entry.endswith("_ddp.sh")  # NPROC CONFIG come first
        cases.append(Case(entry, ["--no-such-option"], "NPROC CONFIG" if ddp else "arguments"))  # unrecognized, or required missing
        if takes_config:
            cases += [
                Case(entry, ["--config", "missing.yaml"], "config file not found"),
                Case(entry, ["--config", "empty.yaml"], "config file is empty", _write("empty.yaml", "")),
                Case(entry, ["--config", "latin1.yaml"], "not a UTF-8 text file",
                     _write("latin1.yaml", "seed: 0\n# caf\xe9\n".encode("latin-1"))),
                Case(entry, ["--config", "folder"], "is a directory", _mkdir("folder")),
            ]
    return cases


def _two_keys(tmp: Path) -> None:
    (tmp / "twice.yaml").write_text(f"_base_: {NB201_QUICK}\nseed: 1\nseed: 2\n")


TINY_RUN = f"""_base_: {NB201_QUICK}
data: {{synthetic: {{num_images: 64, num_test_images: 16, image_size: 16}}}}
model: {{channels: 4, cells_per_stage: 1}}
train: {{epochs: 2, batch_size: 32, save_every: 1}}
search: {{evolution: {{population: 6, iterations: 1, top_k: 2, mutations: 2, crossovers: 2}}}}
"""
_TRAINED: dict[str, Path] = {}


def _trained_run(tmp: Path) -> None:
    """``tmp/tiny.yaml`` and ``tmp/run``: a tiny NAS-Bench-201 supernet trained 2 epochs by the CLI (trained
    once per session, copied for each case)."""
    import shutil

    if "run" not in _TRAINED:
        folder = Path(__import__("tempfile").mkdtemp(prefix="rlnas-bad-input-"))
        (folder / "tiny.yaml").write_text(TINY_RUN)
        subprocess.run([sys.executable, "-m", "nas_bench_201.train_supernet", "--config", "tiny.yaml", "--run-dir", "run"],
                       cwd=folder, env=_env(), check=True, capture_output=True, timeout=600)
        _TRAINED["run"] = folder
    shutil.copytree(_TRAINED["run"], tmp, dirs_exist_ok=True)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _evil_pickle(path: Path) -> None:
    import torch

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model": Evil()}, path)


CASES: list[Case] = [
    # configs
    Case("nb201.train_supernet", ["--config", "twice.yaml"], "key 'seed' appears twice", _two_keys),
    Case("nb201.train_supernet", ["--config", NB201_QUICK, "--set", "train.lr=fast"], "train.lr: expected float"),
    Case("nb201.train_supernet", ["--config", NB201_QUICK, "--stop-after-epoch", "-1"], "expected an integer >= 1"),
    Case("nb201.train_supernet", ["--config", NB201_QUICK, "--run-dir", "file.txt"],
         "is a file, expected a directory", _write("file.txt", "keep me")),
    Case("nb201.train_supernet", ["--config", NB201_QUICK, "--run-dir", "file.txt/run"],
         "is a file, not a directory", _write("file.txt", "keep me")),
    Case("nb201.train_supernet", ["--config", NB201_QUICK, "--run-dir", "locked/run"],
         "permission denied", _mkdir("locked", 0o555)),
    Case("scripts/darts/train_supernet_ddp.sh", ["1", "missing.yaml"], "config file not found: missing.yaml"),
    # architecture strings
    Case("nb201.info", ["--arch", "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
         "unknown op 'nor_conv_9x9'"),
    Case("nb201.info", ["--arch", "5", "--num-classes", "-3"], "expected an integer >= 1"),
    Case("darts.flops", ["--arch", DARTS_GENOTYPE.replace("range(2, 6)", "range(2, 10000000)", 1)],
         "normal_concat"),
    Case("darts.flops", ["--arch", "Genotype(" + "x" * 5000 + ")"], "characters"),
    # output files
    Case("nb201.angles", ["--init", "a.pt", "--trained", "b.pt", "--out", "outdir"], "is a directory",
         _mkdir("outdir")),
    Case("darts.draw", ["--arch", DARTS_GENOTYPE, "--out", "outdir.png"], "is a directory", _mkdir("outdir.png")),
    Case("darts.draw", ["--arch", DARTS_GENOTYPE, "--out", "file.txt/cell.png"], "is a file, not a directory",
         _write("file.txt", "keep me")),
    Case("darts.draw", ["--arch", DARTS_GENOTYPE, "--out", "locked/cell.png"], "permission denied",
         _mkdir("locked", 0o555)),
    Case("mobilenet.flops", ["--write-table", "outdir"], "is a directory", _mkdir("outdir")),
    Case("mobilenet.draw", ["--arch", "2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2", "--out", "outdir.png"],
         "is a directory", _mkdir("outdir.png")),
    Case("nb201.reproduce", ["table7", "--out", "file.txt"], "is a file, expected a directory", _write("file.txt", "x")),
    Case("nb201.reproduce", ["table7", "--runs", "file.txt/runs"], "is a file, not a directory", _write("file.txt", "x")),
    # checkpoints
    Case("nb201.angles", ["--init", "evil.pt", "--trained", "evil.pt", "--out", "a.csv"], "holds Python objects other than tensors",
         lambda tmp: _evil_pickle(tmp / "evil.pt")),
    Case("nb201.angles", ["--init", "short.pt", "--trained", "short.pt", "--out", "a.csv"], "truncated",
         _write("short.pt", b"PK\x03\x04" + b"\0" * 60)),
    Case("nb201.angles", ["--init", "run/checkpoints/last.pt", "--trained", "run/checkpoints/last.pt", "--out", "a.csv"],
         "hold the same weights", _trained_run),
    # a run directory and its checkpoints against the config given
    Case("nb201.train_supernet", ["--config", "tiny.yaml", "--run-dir", "run", "--set", "train.lr=0.5"],
         "another training config (saved -> given: train.lr: 0.1 -> 0.5)", _trained_run),
    Case("nb201.search", ["--config", "tiny.yaml", "--run-dir", "run", "--set", "model.channels=8"],
         "trained with another config (trained -> given: model.channels: 4 -> 8)", _trained_run),
]


def _snapshot(folder: Path) -> dict[str, str]:
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            state[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            state[str(path.relative_to(folder)) + "/"] = ""
    return state


def _command(entry: str) -> list[str]:
    command, _ = ENTRY_POINTS[entry]
    return ["bash", str(ROOT / command[0]), *command[1:]] if command[0].endswith(".sh") else [sys.executable, *command]


ALL_CASES = _generic_cases() + CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.entry}:{' '.join(c.args)[:60]}" for c in ALL_CASES])
def test_bad_input_gives_one_line_and_exit_code_2(case: Case, tmp_path: Path):
    if os.geteuid() == 0 and "permission denied" in case.expect:
        pytest.skip("root ignores file permissions")
    case.setup and case.setup(tmp_path)
    before = _snapshot(tmp_path)
    result = subprocess.run(_command(case.entry) + case.args, cwd=tmp_path, env=_env(), capture_output=True,
                            text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.expect in lines[0], lines[0]
    assert _snapshot(tmp_path) == before, "the command created or changed files"


def test_every_entry_point_is_in_the_table():
    """A command module (one with a ``__main__`` block) that is not listed would escape the table."""
    listed = {command[1] for command, _ in ENTRY_POINTS.values() if command[0] == "-m"}
    found = set()
    for package in ("nas_bench_201", "darts_search_space", "mobilenet_search_space"):
        for module in (ROOT / package).glob("*.py"):
            if 'if __name__ == "__main__"' in module.read_text():
                found.add(f"{package}.{module.stem}")
    assert found <= listed, sorted(found - listed)
