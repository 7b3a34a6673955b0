"""`pip install .` gives four working packages with their data files, usable from any folder."""
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "nas_bench_201", "darts_search_space", "mobilenet_search_space")
PAPER_ARCH = "2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2"
CHECK = """
import json, sys
from pathlib import Path
import common, darts_search_space, mobilenet_search_space, nas_bench_201
from darts_search_space.genotypes import RLNAS_CIFAR10
from nas_bench_201.benchmark import SHIPPED_SHA256, BenchmarkTable, find_table, sha256_of
path = find_table(None)
table = BenchmarkTable.load(path)
print(json.dumps({
    "files": {m.__name__: m.__file__ for m in (common, darts_search_space, mobilenet_search_space, nas_bench_201)},
    "table": str(path), "sha_ok": sha256_of(path) == SHIPPED_SHA256, "best": int(table.metric("cifar10_test").argmax()),
    "flops_table": str(Path(mobilenet_search_space.__file__).with_name("flops_table_224.json")),
}))
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RLNAS_DATA", "RLNAS_NB201_TABLE")}
    return {**env, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def test_pip_install_target_works_from_another_folder(tmp_path):
    source, target, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
    # A copy of the working tree: the in-tree build writes build/ and *.egg-info beside the sources.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".cache", "reports"))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                             "--target", str(target), str(source)], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    elsewhere.mkdir()
    env = clean_env(PYTHONPATH=str(target))
    flops = subprocess.run([sys.executable, "-m", "mobilenet_search_space.flops", "--arch", PAPER_ARCH], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=300)
    assert flops.returncode == 0, flops.stderr
    assert json.loads(flops.stdout) == {"flops_M": 473.248184, "params_M": 5.255648}
    check = subprocess.run([sys.executable, "-c", CHECK], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 0, check.stderr
    found = json.loads(check.stdout)
    for name in PACKAGES:  # imported from the installation, not from the sources
        assert Path(found["files"][name]).is_relative_to(target), found["files"][name]
    assert Path(found["table"]) == target / "nas_bench_201" / "nb201_accuracies.npz"
    assert found["sha_ok"] and found["best"] == 6111
    assert Path(found["flops_table"]).is_file()
    assert not list(elsewhere.iterdir())  # nothing written where it ran


def test_dependency_pins_agree():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    required = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert declared == [line for line in required if line]
    assert "LICENSE" in config["metadata"]["license_files"] and (ROOT / "LICENSE").is_file()
    assert "MIT License" in (ROOT / "LICENSE").read_text() and config["metadata"]["license"] == "MIT"
