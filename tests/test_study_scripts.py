"""The study scripts under scripts/studies that need no trained supernet, on made-up score files."""
import json
import subprocess
import sys
from pathlib import Path

from nas_bench_201.benchmark import BenchmarkTable, find_table
from nas_bench_201.encoding import arch_of, to_str

ROOT = Path(__file__).resolve().parents[1]


def agreement(*paths, check=False):
    return subprocess.run([sys.executable, str(ROOT / "scripts/studies/nb201_val_acc_agreement.py"), *map(str, paths)],
                          capture_output=True, text=True, check=check)


def test_val_acc_agreement_compares_two_memos_over_their_common_architectures(tmp_path):
    truth = BenchmarkTable.load(find_table(None)).metric("cifar10_test")
    indices = [0, 17, 420, 999, 5000, 7777, 12000, 15624]
    archs = [to_str(arch_of(i)) for i in indices]
    first = {arch: float(truth[i]) for arch, i in zip(archs, indices)}  # ranks as the benchmark
    second = {arch: -float(truth[i]) for arch, i in zip(archs[2:], indices[2:])}  # the reverse, 6 of them
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path, memo in zip(paths, (first, second)):
        path.write_text(json.dumps(memo))
    out = agreement(*paths, check=True).stdout.splitlines()
    assert out[0] == "6 architectures scored in both"
    assert "tau vs cifar10_test 1.000" in out[1] and "(8 scored in all)" in out[1]
    assert "tau vs cifar10_test -1.000" in out[2] and "(6 scored in all)" in out[2]
    assert out[3] == "tau between the two rankings: -1.000"


def test_val_acc_agreement_reports_a_bad_score_file_in_one_line(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({to_str(arch_of(0)): 10.0}))
    bad.write_text("[1, 2]")
    result = agreement(good, bad)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "not a val_acc score file" in result.stderr
