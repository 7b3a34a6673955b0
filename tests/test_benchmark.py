import numpy as np
import pytest

from common.errors import UserError
from nas_bench_201.benchmark import COLUMNS, BenchmarkConfig, BenchmarkTable, find_table


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
    monkeypatch.setenv("RLNAS_DATA", str(tmp_path))
    assert find_table(None) is None
    target = tmp_path / "nasbench201" / "nb201_accuracies.csv"
    target.parent.mkdir()
    target.write_text("x")
    assert find_table(None) == target
    other = tmp_path / "other.csv"
    other.write_text("x")
    monkeypatch.setenv("RLNAS_NB201_TABLE", str(other))
    assert find_table(None) == other
    assert find_table(str(target)) == target
    with pytest.raises(UserError, match="benchmark.table: file not found"):
        find_table(str(tmp_path / "missing.csv"))
    with pytest.raises(UserError, match="unknown column"):
        from common.config import from_dict
        from_dict(BenchmarkConfig, {"metrics": ["cifar10_accuracy"]})
