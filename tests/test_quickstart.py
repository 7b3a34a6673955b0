"""The quickstart end to end, exactly as a user runs it (CI runs it too)."""
import csv
import json
import os
import subprocess

import pytest

from nas_bench_201.space import from_str, index_of

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path, nb201_table_path):
    env = dict(os.environ, RLNAS_NB201_TABLE=str(nb201_table_path))
    result = subprocess.run(["bash", "scripts/quickstart.sh", "--run-dir", str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Top architectures by angle" in result.stdout and "Kendall tau" in result.stdout

    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == ["epoch_0000.pt", "epoch_0010.pt", "epoch_0020.pt", "epoch_0030.pt", "last.pt"]
    with open(tmp_path / "angles.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15625 and [int(r["index"]) for r in rows] == list(range(15625))

    found = json.loads((tmp_path / "search/result.json").read_text())
    assert found["evaluated"] == 500  # population 50 x 10 generations, none scored twice
    best = found["best"]
    assert index_of(from_str(best["arch_str"])) == best["index"]
    angles = {r["arch_str"]: float(r["angle"]) for r in rows}
    assert best["score"] == pytest.approx(angles[best["arch_str"]], abs=1e-12)
    assert 0 <= best["benchmark"]["cifar10_test"] <= 100

    corr = json.loads((tmp_path / "correlation.json").read_text())
    assert corr["n"] == 15625 and corr["metric"] == "cifar10_test" and -1 <= corr["kendall_tau"] <= 1
    assert (tmp_path / "correlation.png").stat().st_size > 10_000
