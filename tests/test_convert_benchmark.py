"""convert_benchmark: the official NAS-Bench-201 file format -> the compact table, loaded safely."""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common import cli
from common.errors import UserError
from nas_bench_201.benchmark import COLUMNS, BenchmarkTable
from nas_bench_201.convert_benchmark import check_archs, main
from nas_bench_201.space import NUM_ARCHS, arch_of, to_str

nas_201_api = pytest.importorskip("nas_201_api")
ROOT = Path(__file__).resolve().parents[1]
SEEDS = (777, 888)
EPOCHS = 2
# (dataset, eval set) of the benchmark file -> table column, written out independently of the converter.
SOURCES = {
    ("cifar10-valid", "x-valid"): "cifar10_valid",
    ("cifar10", "ori-test"): "cifar10_test",
    ("cifar100", "x-valid"): "cifar100_valid",
    ("cifar100", "x-test"): "cifar100_test",
    ("ImageNet16-120", "x-valid"): "imagenet16_valid",
    ("ImageNet16-120", "x-test"): "imagenet16_test",
}
COSTS = {"cifar10-valid": "cifar10", "cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16"}


def convert(*args):
    return subprocess.run([sys.executable, "-m", "nas_bench_201.convert_benchmark", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


def read_table(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


# Objects that are the same in every trial are shared, so that pickle stores them once (a fast test).
EVAL_NAMES = {dataset: [s for d, s in SOURCES if d == dataset] for dataset in COSTS}
KEYS = {(name, epoch): f"{name}@{epoch}" for names in EVAL_NAMES.values() for name in names for epoch in range(EPOCHS)}
TRAIN_ACCS, TRAIN_LOSSES = {0: 10.0, 1: 20.0}, {0: 2.0, 1: 1.0}
EVAL_LOSSES = {dataset: {KEYS[n, e]: 1.0 for n in names for e in range(EPOCHS)}
               for dataset, names in EVAL_NAMES.items()}
LATENCY = [0.01]


def arch_results(index, arch_str, row, shift):
    """One architecture's 200-epoch results in the official format: two seeds that average to the
    table's values at the last epoch, something else at the first epoch."""
    result = nas_201_api.ArchResults(index, arch_str)
    config = {"channel": 16, "num_cells": 5, "arch_str": arch_str}
    for dataset, cost in COSTS.items():
        for sign, seed in zip((1.0, -1.0), SEEDS):
            params = np.float64(row[f"params_{cost}_M"] + sign * 1e-3)  # a numpy scalar, as the real file may hold
            flops = row[f"flops_{cost}_M"] + sign * 1e-2
            count = nas_201_api.ResultsCount(dataset, None, None, None, params, flops, None, seed, EPOCHS, LATENCY)
            count.update_train_info(TRAIN_ACCS, None, TRAIN_LOSSES, None)  # no times: fewer objects
            count.arch_config, count.eval_names, count.eval_losses = config, EVAL_NAMES[dataset], EVAL_LOSSES[dataset]
            for name in EVAL_NAMES[dataset]:
                value = row[SOURCES[dataset, name]]
                count.eval_acc1es[KEYS[name, 0]] = value - 30.0
                count.eval_acc1es[KEYS[name, 1]] = value + sign * shift
            result.update(dataset, seed, count)
    return result.state_dict()


@pytest.fixture(scope="module")
def benchmark_file(nb201_table_path, tmp_path_factory):
    """A benchmark file in the official (legacy torch.save) format, built from the real table."""
    header, rows = read_table(nb201_table_path)
    less = arch_results(0, rows[0][1], dict.fromkeys(header[2:], 0.0), 0.0)  # the 12-epoch results: zeros
    arch2infos = {}
    for line in rows:
        row = {name: float(value) for name, value in zip(header[2:], line[2:])}
        shift = 0.25 + (int(line[0]) % 7) / 8  # differs between architectures, exact in binary
        arch2infos[int(line[0])] = {"less": less, "full": arch_results(int(line[0]), line[1], row, shift)}
    data = {"meta_archs": [line[1] for line in rows], "arch2infos": arch2infos,
            "evaluated_indexes": set(range(NUM_ARCHS))}
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-v1_1-synthetic.pth"
    torch.save(data, path, _use_new_zipfile_serialization=False)
    return path


@pytest.mark.slow
def test_conversion_reproduces_the_table(benchmark_file, nb201_table_path, tmp_path):
    out = tmp_path / "table.csv"
    result = convert("--pth", benchmark_file, "--out", out)
    assert result.returncode == 0, result.stderr
    header, rows = read_table(out)
    assert tuple(header) == COLUMNS
    _, expected = read_table(nb201_table_path)
    assert [row[:2] for row in rows] == [[str(i), to_str(arch_of(i))] for i in range(NUM_ARCHS)]
    assert [row[:2] for row in rows] == [row[:2] for row in expected]
    got = np.array([[float(v) for v in row[2:]] for row in rows])
    want = np.array([[float(v) for v in row[2:]] for row in expected])
    assert got.shape == want.shape == (NUM_ARCHS, len(COLUMNS) - 2)
    assert np.abs(got - want).max() < 1e-9
    table = BenchmarkTable.load(out)
    for k, name in enumerate(COLUMNS[2:]):
        assert np.abs(table.metric(name) - want[:, k]).max() < 1e-9, name


class Payload:
    """Runs a command when unpickled without restrictions."""

    def __init__(self, function, marker):
        self.function, self.marker = function, marker

    def __reduce__(self):
        if self.function == "system":
            return os.system, (f"touch {self.marker}",)
        return shutil.copyfile, (__file__, str(self.marker))


def run_in_process(capsys, *args):
    """The entry point's exit code and stderr lines, without starting an interpreter."""
    code = cli.run(main, [str(arg) for arg in args])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("zipfile", [True, False])
def test_files_with_code_are_refused_and_never_run(tmp_path, capsys, zipfile):
    marker = tmp_path / "executed"
    data = {"meta_archs": [], "arch2infos": {0: Payload("system", marker)}, "evaluated_indexes": [],
            "more": Payload("copyfile", marker)}
    path = tmp_path / "evil.pth"
    torch.save(data, path, _use_new_zipfile_serialization=zipfile)
    out = tmp_path / "table.csv"
    out.write_text("keep me\n")
    code, lines = run_in_process(capsys, "--pth", path, "--out", out)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "refused to load" in lines[0], lines
    assert "posix.system" in lines[0]  # the refused global is named
    if zipfile:  # all of them, when torch can list them
        assert "shutil.copyfile" in lines[0]
    assert not marker.exists()
    assert out.read_text() == "keep me\n"


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "table.csv"
    assert_one_line_error(convert("--pth", tmp_path / "missing.pth", "--out", out), "benchmark file not found")
    text = tmp_path / "text.pth"
    text.write_text("not a torch file\n")
    other = tmp_path / "other.pth"
    torch.save({"model": {}}, other)
    for path, fragment in [(text, "not a readable torch file"), (other, "not a NAS-Bench-201 benchmark file")]:
        code, lines = run_in_process(capsys, "--pth", path, "--out", out)
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert not out.exists()


def test_foreign_index_order_and_missing_results_are_refused(tmp_path):
    archs = [to_str(arch_of(i)) for i in range(NUM_ARCHS)]
    check_archs(archs)
    with pytest.raises(UserError, match="has 100 architectures"):
        check_archs(archs[:100])
    swapped = list(archs)
    swapped[5], swapped[9] = swapped[9], swapped[5]
    with pytest.raises(UserError, match=r"index 5 is \|"):
        check_archs(swapped)
    path = tmp_path / "partial.pth"
    torch.save({"meta_archs": archs, "arch2infos": {}, "evaluated_indexes": []}, path)
    with pytest.raises(UserError, match="index 0: no 200-epoch results"):
        main(["--pth", str(path), "--out", str(tmp_path / "table.csv")])
    assert not (tmp_path / "table.csv").exists()


def test_missing_api_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nas_201_api", None)  # import fails as if not installed
    with pytest.raises(UserError, match="pip install nas-bench-201"):
        main(["--pth", str(tmp_path / "x.pth"), "--out", str(tmp_path / "table.csv")])
