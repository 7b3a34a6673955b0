import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import UserError
from nas_bench_201 import benchmark
from nas_bench_201.benchmark import (COLUMNS, SHIPPED_SHA256, SHIPPED_TABLE, BenchmarkConfig, BenchmarkTable,
                                     find_table, sha256_of)
from nas_bench_201.space import NUM_ARCHS

ROOT = Path(__file__).resolve().parents[1]


def test_table_loads_in_index_order(nb201_table_path):
    table = BenchmarkTable.load(nb201_table_path)
    assert set(table.columns) == set(COLUMNS[2:])
    assert int(np.argmax(table.metric("cifar10_test"))) == 6111  # the benchmark's best CIFAR-10 architecture
    assert table.row(9930)["cifar100_test"] == pytest.approx(73.5133, abs=1e-3)
    with pytest.raises(UserError, match="unknown column"):
        table.metric("cifar10_tset")


def test_broken_tables_are_refused(nb201_table_path, tmp_path):
    lines = nb201_table_path.read_text().splitlines()
    cases = {
        "short.csv": lines[:100],
        "header.csv": ["a,b,c"] + lines[1:],
        "swapped.csv": [lines[0], lines[2].replace("1,", "0,", 1), lines[1].replace("0,", "1,", 1)] + lines[3:],
    }
    for name, content in cases.items():
        (tmp_path / name).write_text("\n".join(content) + "\n")
        with pytest.raises(UserError):
            BenchmarkTable.load(tmp_path / name)


def test_table_lookup_order(tmp_path, monkeypatch):
    monkeypatch.delenv("RLNAS_NB201_TABLE", raising=False)
    monkeypatch.setenv("RLNAS_DATA", str(tmp_path))  # not consulted: the shipped table is the default
    assert find_table(None) == SHIPPED_TABLE
    target = tmp_path / "mine.csv"
    target.write_text("x")
    other = tmp_path / "other.csv"
    other.write_text("x")
    monkeypatch.setenv("RLNAS_NB201_TABLE", str(other))
    assert find_table(None) == other
    assert find_table(str(target)) == target
    with pytest.raises(UserError, match="benchmark.table: file not found"):
        find_table(str(tmp_path / "missing.csv"))
    monkeypatch.setenv("RLNAS_NB201_TABLE", str(tmp_path / "missing.csv"))
    with pytest.raises(UserError, match="RLNAS_NB201_TABLE: file not found"):
        find_table(None)
    with pytest.raises(UserError, match="unknown column"):
        from common.config import from_dict
        from_dict(BenchmarkConfig, {"metrics": ["cifar10_accuracy"]})


def test_the_shipped_table_is_intact():
    assert sha256_of(SHIPPED_TABLE) == SHIPPED_SHA256
    assert SHIPPED_TABLE.stat().st_size <= 2 * 1024 * 1024
    table = BenchmarkTable.load(SHIPPED_TABLE)
    assert set(table.columns) == set(COLUMNS[2:]) and all(v.shape == (NUM_ARCHS,) for v in table.columns.values())
    assert int(np.argmax(table.metric("cifar10_test"))) == 6111
    assert table.row(9930)["cifar100_test"] == pytest.approx(73.5133, abs=1e-3)


def test_the_shipped_table_equals_the_offline_table(offline_nb201_table):
    shipped, offline = BenchmarkTable.load(SHIPPED_TABLE), BenchmarkTable.load(offline_nb201_table)
    assert set(shipped.columns) == set(offline.columns)
    for name, values in offline.columns.items():
        assert np.array_equal(shipped.columns[name], values), name  # bit for bit


def test_npz_round_trip_is_exact_and_reproducible(nb201_table_path, tmp_path):
    table = BenchmarkTable.load(nb201_table_path)
    table.save(tmp_path / "a.npz")
    table.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    again = BenchmarkTable.load(tmp_path / "a.npz")
    assert all(np.array_equal(again.columns[k], v) for k, v in table.columns.items())
    again.save(tmp_path / "c.csv")
    assert all(np.array_equal(BenchmarkTable.load(tmp_path / "c.csv").columns[k], v) for k, v in table.columns.items())


def test_broken_npz_tables_are_refused(tmp_path, monkeypatch):
    columns = BenchmarkTable.load(SHIPPED_TABLE).columns
    np.savez(tmp_path / "missing.npz", **{k: v for k, v in columns.items() if k != "flops_cifar10_M"})
    np.savez(tmp_path / "short.npz", **{k: v[:10] for k, v in columns.items()})
    np.savez(tmp_path / "objects.npz", **{**columns, "cifar10_test": np.array([{"x": 1}] * NUM_ARCHS, dtype=object)})
    (tmp_path / "truncated.npz").write_bytes(SHIPPED_TABLE.read_bytes()[:1000])
    for name, message in [("missing.npz", "missing flops_cifar10_M"), ("short.npz", "must hold 15625 finite"),
                          ("objects.npz", "cannot read the benchmark table"),
                          ("truncated.npz", "cannot read the benchmark table")]:
        with pytest.raises(UserError, match=message):
            BenchmarkTable.load(tmp_path / name)
    damaged = tmp_path / "nb201_accuracies.npz"
    data = bytearray(SHIPPED_TABLE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(benchmark, "SHIPPED_TABLE", damaged.resolve())
    with pytest.raises(UserError, match="shipped benchmark table is damaged"):
        BenchmarkTable.load(damaged)


def test_the_converter_rebuilds_the_shipped_table_from_a_csv(nb201_table_path, tmp_path):
    out = tmp_path / "nb201_accuracies.npz"
    result = subprocess.run([sys.executable, "-m", "nas_bench_201.convert_benchmark", "--table", str(nb201_table_path),
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rebuilt, shipped = BenchmarkTable.load(out), BenchmarkTable.load(SHIPPED_TABLE)
    assert all(np.array_equal(rebuilt.columns[k], v) for k, v in shipped.columns.items())
