"""Every study of ``nas_bench_201.reproduce`` end to end at tiny scale, through its command line."""
import csv
import json
import operator
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from common.cli import run
from common.correlation import correlate
from nas_bench_201 import reproduce
from tests.nb201_tiny import TINY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory, nb201_table_path):
    """Run a study config (YAML text) through the CLI; returns the report folder."""
    root = tmp_path_factory.mktemp("studies")
    (root / "tiny.yaml").write_text(TINY.format(base=ROOT / "configs/nas_bench_201/base.yaml"))

    def go(name: str, text: str, *extra: str) -> Path:
        (root / f"{name}.yaml").write_text(text)
        out = root / f"out_{name}"
        code = run(reproduce.main, [name.split("_")[0], "--config", str(root / f"{name}.yaml"), "--runs",
                                    str(root / "runs"), "--out", str(out), *extra])
        assert code == 0
        return out

    return go


def rows(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_table12_methods_a_to_d(study, nb201_table_path, monkeypatch, capsys):
    out = study("table12", """
experiment: table12
datasets: {cifar10: tiny.yaml}
set: [train.epochs=2]
methods:
  A: {label: A (SPOS), set: [labels.mode=ground_truth, search.score=val_acc]}
  B: {set: [labels.mode=ground_truth]}
  C: {set: [labels.mode=uniform_once, search.score=val_acc]}
  D: {label: D (RLNAS), set: [labels.mode=uniform_once]}
search_seeds: [0, 1]
tau_archs: 12
transfer: true
tau_epochs: true
""")
    report = (out / "report.md").read_text()
    for text in ("A (SPOS)", "D (RLNAS)", "88.49 / 92.11", "0.5059", "Transfer", "during training"):
        assert text in report
    assert "report written to" in (out.parent / "runs/table12/log.txt").read_text()  # the log is named after the config
    search = rows(out / "search.csv")
    assert len(search) == 8 and {r["method"] for r in search} == set("ABCD")
    tau = {r["method"]: r for r in rows(out / "tau.csv")}
    assert tau["B"]["n"] == tau["D"]["n"] == "15625" and tau["A"]["n"] == tau["C"]["n"] == "12"
    assert tau["A"]["run_dir"] == tau["B"]["run_dir"] != tau["C"]["run_dir"] == tau["D"]["run_dir"]  # shared supernets
    # The tau of the last epoch's checkpoint is the method's tau; both agree with an independent computation.
    from nas_bench_201.angle import scorer_from_checkpoints
    from nas_bench_201.benchmark import BenchmarkTable
    from nas_bench_201.space import benchmark_archs

    run_dir = Path(tau["D"]["run_dir"])
    angles = scorer_from_checkpoints(run_dir / "checkpoints/epoch_0000.pt", run_dir / "checkpoints/epoch_0002.pt")(benchmark_archs())
    truth = BenchmarkTable.load(nb201_table_path).metric("cifar10_test")
    expected = correlate(angles, truth).kendall_tau
    assert float(tau["D"]["tau"]) == pytest.approx(expected, abs=1e-12)
    epochs = [r for r in rows(out / "tau_epochs.csv") if r["method"] == "D"]
    assert [r["epoch"] for r in epochs] == ["1", "2"] and float(epochs[-1]["cifar10"]) == pytest.approx(expected, abs=1e-12)
    for name in ("tau_per_method.png", "tau_epochs.png", "angle_scatter_cifar10_D.png", "transfer.csv"):
        assert (out / name).stat().st_size > 0
    for record in json.loads((out / "results.json").read_text())["search"]:
        assert record["test"] == pytest.approx(truth[record["index"]])
    # val_acc scores are kept beside their supernet: a rerun scores nothing again and reports the same.
    (memo,) = (Path(tau["A"]["run_dir"]) / "scores").glob("val_acc-*.json")
    assert len(json.loads(memo.read_text())) >= 12
    from common.valacc import SubnetAccuracy

    monkeypatch.setattr(SubnetAccuracy, "evaluate", lambda *args: pytest.fail("a memoised architecture was scored again"))
    again = study("table12", (out.parent / "table12.yaml").read_text())
    assert (again / "tau.csv").read_text() == (out / "tau.csv").read_text()
    assert [r["arch_str"] for r in rows(again / "search.csv")] == [r["arch_str"] for r in search]
    # Rerunning one method keeps the others' results (training curves included) from results.json.
    config = (out.parent / "table12.yaml").read_text()
    kept = study("table12_kept", config, "--set", "run_order=[C]", "--keep", str(out / "results.json"))
    before, after = json.loads((out / "results.json").read_text()), json.loads((kept / "results.json").read_text())
    key = operator.itemgetter("method", "train_seed")
    assert sorted(map(key, after["tau"])) == sorted(map(key, before["tau"]))
    assert {key(t): t["tau"] for t in after["tau"]} == {key(t): t["tau"] for t in before["tau"]}
    assert [r["arch_str"] for r in after["search"] if r["method"] == "B"] == [r["arch_str"] for r in search if r["method"] == "B"]
    assert all(sorted(t["training"]) == ["1", "2"] for t in after["tau"])
    assert "| 2 |" in (kept / "report.md").read_text().split("## Supernet training")[1]
    # The report keeps the val_acc scores; a fresh runs folder retrains the same weights and reuses them.
    scores = out / "val_acc_scores"
    assert sorted(len(json.loads(f.read_text())) >= 12 for f in scores.glob("val_acc-*.json")) == [True, True]
    fresh = study("table12_fresh", config, "--set", "run_order=[A]", "--runs", str(out.parent / "fresh_runs"), "--scores", str(scores))
    assert [r["tau"] for r in rows(fresh / "tau.csv")] == [tau["A"]["tau"]]
    broken = out.parent / "broken_scores"
    broken.mkdir()
    for f in scores.glob("*.json"):
        (broken / f.name).write_text("[1, 2]")
    for folder, message in ((broken, "not a val_acc score file"), (out.parent / "none", "not a directory")):
        assert run(reproduce.main, ["table12", "--config", str(out.parent / "table12.yaml"), "--runs",
                                    str(out.parent / "fresh_runs"), "--out", str(out.parent / "b"), "--scores", str(folder)]) == 2
        assert message in capsys.readouterr().err
    (out.parent / "other.yaml").write_text(config.replace("train.epochs=2", "train.epochs=3"))
    assert run(reproduce.main, ["table12", "--config", str(out.parent / "other.yaml"), "--runs", str(out.parent / "runs"),
                                "--out", str(out.parent / "other"), "--keep", str(out / "results.json")]) == 2
    assert "a study with another 'set'" in capsys.readouterr().err


def test_table6_label_modes_and_figure1_class_counts(study):
    out = study("table6", """
experiment: table6
datasets: {cifar10: tiny.yaml}
methods:
  uniform_once: {set: [labels.mode=uniform_once]}
  shuffle_once: {set: [labels.mode=shuffle_once]}
  uniform_per_iter: {set: [labels.mode=uniform_per_iter]}
  shuffle_per_iter: {set: [labels.mode=shuffle_per_iter]}
""")
    tau = rows(out / "tau.csv")
    assert [r["labels"] for r in tau] == ["uniform_once", "shuffle_once", "uniform_per_iter", "shuffle_per_iter"]
    assert len({r["run_dir"] for r in tau}) == 4 and "93.65+-0.07" in (out / "report.md").read_text()
    out = study("figure1", """
experiment: figure1
datasets: {cifar10: tiny.yaml}
methods: {rlnas: {set: [labels.mode=uniform_once]}}
class_range: [10, 30, 20]
""")
    figure = rows(out / "figure1.csv")
    assert [r["num_classes"] for r in figure] == ["10", "30"] and (out / "figure1.png").stat().st_size > 10_000
    assert [r["num_classes"] for r in rows(out / "tau.csv")] == ["10", "30"]


def test_table7_training_free_and_random_search(study):
    out = study("table7", """
experiment: table7
datasets: {cifar10: tiny.yaml}
methods:
  training_free_normal: {training_free: normal}
  training_free_uniform: {training_free: uniform}
  random_search: {set: [labels.mode=ground_truth, search.score=val_acc, search.strategy=random]}
  rlnas: {set: [labels.mode=uniform_once, train.epochs=2]}
tau_archs: 10
""")
    search = {r["method"]: r for r in rows(out / "search.csv")}
    assert search["random_search"]["evaluated"] == "5"
    tau = {r["method"]: r for r in rows(out / "tau.csv")}
    free = Path(tau["training_free_normal"]["run_dir"])
    assert sorted(p.name for p in (free / "checkpoints").iterdir()) == ["init_a.pt", "init_b.pt"]
    assert tau["training_free_normal"]["run_dir"] != tau["training_free_uniform"]["run_dir"]
    assert np.isfinite(float(tau["training_free_uniform"]["tau"])) and "92.09+-0.21" in (out / "report.md").read_text()


def test_proxies_and_eps_studies(study):
    proxies = "\n".join(f"  {p}: {{set: [search.score={p}], search: false}}" for p in reproduce.PROXY_NAMES)
    out = study("proxies", f"""
experiment: proxies
datasets: {{cifar10: tiny.yaml}}
methods:
  angle: {{set: [labels.mode=uniform_once, train.epochs=2], search: false}}
{proxies}
search_seeds: []
tau_archs: 8
""")
    tau = {r["method"]: r for r in rows(out / "tau.csv")}
    assert set(tau) == {"angle", *reproduce.PROXY_NAMES}
    assert all(tau[p]["n"] == "8" and tau[p]["run_dir"] == "" for p in reproduce.PROXY_NAMES)  # no supernet
    assert tau["angle"]["n"] == "15625"
    assert not (out / "search.csv").exists() or rows(out / "search.csv") == []
    out = study("eps", """
experiment: eps
datasets: {cifar10: tiny.yaml}
methods:
  eps: {set: [labels.mode=ground_truth, search.strategy=eps, search.score=val_acc]}
  D: {set: [labels.mode=uniform_once, train.epochs=2]}
tau_archs: 8
""")
    search = {r["method"]: r for r in rows(out / "search.csv")}
    assert search["eps"]["evaluated"] == "6" and "eps-" in Path(rows(out / "tau.csv")[0]["run_dir"]).name


def test_a_study_config_of_another_experiment_is_refused(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("experiment: table6\ndatasets: {cifar10: x.yaml}\nmethods: {a: {}}\n")
    assert run(reproduce.main, ["table12", "--config", str(path)]) == 2
    assert "a study config for 'table6'" in capsys.readouterr().err
    path.write_text("experiment: table6\ndatasets: {mnist: x.yaml}\nmethods: {a: {}}\n")
    assert run(reproduce.main, ["table6", "--config", str(path)]) == 2
    assert "unknown benchmark dataset 'mnist'" in capsys.readouterr().err


def test_shipped_study_configs_load():
    from common.config import load_config

    for path in sorted(reproduce.config.EXPERIMENT_DIR.glob("*.yaml")):
        rc = load_config(path, reproduce.ReproduceConfig)
        assert path.stem.startswith(rc.experiment)


def test_cpu_long_study_pieces(study, nb201_table_path):
    """Seeds, per-method seeds, the search on the common subset, the per-epoch angle with the
    consecutive-epoch tau, and the three training-free variants."""
    out = study("table12_long", """
experiment: table12
datasets: {cifar10: tiny.yaml}
set: [train.epochs=3]
methods:
  A: {set: [labels.mode=ground_truth, search.score=val_acc], search_on_subset: true, train_seeds: [0]}
  D: {set: [labels.mode=uniform_once]}
run_order: [D, A]
train_seeds: [0, 1]
search_seeds: [0, 1]
tau_archs: 10
tau_epochs: true
""")
    tau = rows(out / "tau.csv")
    assert [(r["method"], r["train_seed"]) for r in tau] == [("D", "0"), ("D", "1"), ("A", "0")]
    (a,) = [r for r in tau if r["method"] == "A"]
    assert a["n"] == "10" and 0 < float(a["accuracy_se"]) < 50
    scores = json.loads(next((Path(a["run_dir"]) / "scores").glob("val_acc-*.json")).read_text())
    (found,) = [r for r in rows(out / "search.csv") if r["method"] == "A"]
    assert found["evaluated"] == "10" and float(found["score"]) == max(scores.values())
    from nas_bench_201.angles import all_angles

    epochs = [r for r in rows(out / "tau_epochs.csv") if r["method"] == "D" and r["train_seed"] == "1"]
    assert [r["epoch"] for r in epochs] == ["1", "2", "3"] and epochs[0]["consecutive"] == ""
    run_dir = Path([r for r in tau if r["method"] == "D"][1]["run_dir"])
    two, three = (all_angles(run_dir / "checkpoints/epoch_0000.pt", run_dir / f"checkpoints/epoch_000{e}.pt") for e in (2, 3))
    assert float(epochs[2]["consecutive"]) == pytest.approx(correlate(three, two).kendall_tau, abs=1e-12)
    report = (out / "report.md").read_text()
    assert "stability" in report and "Supernet training" in report and "Held-out accuracy" in report
    check_statistics(out, nb201_table_path)
    # the common subsets are nested: a larger study reuses the smaller one's architectures
    from nas_bench_201.reproduce.config import tau_subset

    assert set(tau_subset(10, 0)) <= set(tau_subset(40, 0))
    from nas_bench_201.reproduce.config import subset_order

    assert list(subset_order(10, 0)) == list(subset_order(40, 0)[:10]) and sorted(subset_order(10, 0)) == list(tau_subset(10, 0))

    out = study("table7_long", """
experiment: table7
datasets: {cifar10: tiny.yaml}
methods:
  a: {training_free: normal}
  b: {training_free: normal, training_free_init: all}
  c: {training_free: normal, set: [angle.weights=conv]}
search_seeds: [0]
""")
    tau = {r["method"]: r for r in rows(out / "tau.csv")}
    assert tau["a"]["run_dir"] == tau["c"]["run_dir"] != tau["b"]["run_dir"] and tau["a"]["tau"] != tau["c"]["tau"]
    import torch

    a, b = ({k: v for k, v in torch.load(Path(tau[m]["run_dir"]) / "checkpoints" / f"init_{p}.pt", weights_only=True)["model"].items()}
            for m, p in (("a", "a"), ("b", "a")))
    assert torch.equal(a["stem.0.weight"], b["stem.0.weight"])  # (b) draws the same kernels as (a) ...
    assert torch.equal(a["stem.1.weight"], torch.ones_like(a["stem.1.weight"]))  # (a): BN gamma 1
    b2 = torch.load(Path(tau["b"]["run_dir"]) / "checkpoints" / "init_b.pt", weights_only=True)["model"]
    for name in ("stem.1.weight", "stem.1.bias", "classifier.bias", "lastact.0.weight"):  # ... and every other parameter
        assert not torch.equal(b[name], b2[name]) and b[name].std() > 0.5
    # every training-free variant's tau also without the all-cut architectures and against the parameter
    # count, from its two initialisations (variant c: the angle over the conv kernels, as the study scored it)
    from nas_bench_201.angles import all_angles
    from nas_bench_201.benchmark import BenchmarkTable
    from nas_bench_201.encoding import all_paths_cut
    from nas_bench_201.space import benchmark_archs

    table = BenchmarkTable.load(nb201_table_path)
    alive = ~all_paths_cut(benchmark_archs())
    for m, weights in (("a", "all"), ("b", "all"), ("c", "conv")):
        run_dir = Path(tau[m]["run_dir"]) / "checkpoints"
        angles = all_angles(run_dir / "init_a.pt", run_dir / "init_b.pt", weights=weights)
        truth = table.metric("cifar10_test")
        assert float(tau[m]["tau"]) == pytest.approx(stats.kendalltau(angles, truth)[0], abs=1e-9)
        assert float(tau[m]["tau_connected"]) == pytest.approx(stats.kendalltau(angles[alive], truth[alive])[0], abs=1e-12)
        assert float(tau[m]["tau_params"]) == pytest.approx(
            stats.kendalltau(angles, table.metric("params_cifar10_M"))[0], abs=1e-12)


def check_statistics(out: Path, nb201_table_path) -> None:
    """The cells of a study with two D supernets (two search seeds each) and one A supernet scored on a
    sampled subset, against an independent computation: the mean over supernets with the sample SD
    (ddof 1) and the t-interval, the search seeds averaged within their supernet first; the tau over
    the 15,284 architectures with a path from the checkpoints; a bootstrap interval for the subset tau
    and none for a whole-space tau; and the same report rendered again from results.json."""
    import math
    import re
    import shutil

    from nas_bench_201.angles import all_angles
    from nas_bench_201.benchmark import BenchmarkTable
    from nas_bench_201.encoding import all_paths_cut
    from nas_bench_201.space import benchmark_archs

    report = (out / "report.md").read_text()
    assert "tau s.e." not in report and "+-" not in report.split("## Search results")[1].split("## Supernet training")[0]
    tau = rows(out / "tau.csv")
    d_taus = [float(r["tau"]) for r in tau if r["method"] == "D"]
    sd = np.std(d_taus, ddof=1)
    half = stats.t.ppf(0.975, len(d_taus) - 1) * sd / math.sqrt(len(d_taus))
    cell = f"{np.mean(d_taus):.4f} (SD {sd:.4f}, 95% CI {np.mean(d_taus) - half:.4f} to {np.mean(d_taus) + half:.4f}, n=2)"
    (d_row,) = [line for line in report.splitlines() if line.startswith("| D | angle | all 15,625 |")]
    assert cell in d_row and "mean (SD, 95% CI, n supernets)" in report
    # the tau over the architectures with a path: the checkpoints' angles without the 341 all-cut ones
    table = BenchmarkTable.load(nb201_table_path)
    truth, alive = table.metric("cifar10_test"), ~all_paths_cut(benchmark_archs())
    assert alive.sum() == 15284
    connected = []
    for r in (r for r in tau if r["method"] == "D"):
        checkpoints = Path(r["run_dir"]) / "checkpoints"
        angles = all_angles(checkpoints / "epoch_0000.pt", checkpoints / "epoch_0003.pt")
        connected.append(stats.kendalltau(angles[alive], truth[alive])[0])
        assert float(r["tau_connected"]) == pytest.approx(connected[-1], abs=1e-12) and r["tau_low"] == ""  # whole space: no interval
    assert f"{np.mean(connected):.4f} (SD {np.std(connected, ddof=1):.4f}" in d_row
    # the search cell: the two search seeds of a supernet averaged first, then mean and sample SD over supernets
    search = [r for r in rows(out / "search.csv") if r["method"] == "D"]
    per = [np.mean([float(r["test"]) for r in search if r["train_seed"] == s]) for s in ("0", "1")]
    (found,) = [line for line in report.splitlines() if line.startswith("| D | angle | uniform_once |")]
    assert f"{np.mean(per):.2f} (SD {np.std(per, ddof=1):.2f}" in found and "| 2 x 2 |" in found
    # the sampled subset's tau: a bootstrap interval over its architectures that holds the tau
    (a,) = [r for r in tau if r["method"] == "A"]
    assert float(a["tau_low"]) <= float(a["tau"]) <= float(a["tau_high"]) and a["tau_connected"] == ""
    assert re.search(r"\| A \| val_acc \| 10 sampled \| [-\d.]+ \(n=1\) \|  \| [-\d.]+ to [-\d.]+ \|", report)
    # a kept report rendered again from its results.json (scripts/studies/nb201_rerender.py) reads the same
    copy = out.parent / (out.name + "_rerendered")
    shutil.copytree(out, copy)
    (copy / "report.md").unlink()
    config = re.search(r"\(`([^`]+\.yaml)`\)", report).group(1)
    study_module("nb201_rerender.py").rerender(copy, Path(config), note="Rendered again.")
    again = (copy / "report.md").read_text().replace("\nRendered again.\n", "", 1)
    assert again == report.replace(str(out), str(copy))
    # scripts/studies/nb201_angle_checks.py on the same two supernets: the same taus, and the stop table
    runs = [f"--label=D{r['train_seed']}={r['run_dir']}" for r in tau if r["method"] == "D"]
    assert run(study_module("nb201_angle_checks.py").main, [*runs, "--out", str(out.parent / "checks")]) == 0
    checks = [r for r in rows(out.parent / "checks/checks.csv") if r["epoch"] == "3"]
    assert [float(r["tau_all"]) for r in checks] == pytest.approx(d_taus, abs=1e-12)
    assert [float(r["tau_connected"]) for r in checks] == pytest.approx(connected, abs=1e-12)
    assert "## The stop on ranking stability" in (out.parent / "checks/checks.md").read_text()


def study_module(name: str):
    """A script of scripts/studies as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(name).stem, ROOT / "scripts/studies" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_live_conv_weight_counts_convolutions_on_surviving_paths():
    """9 per 3x3 and 1 per 1x1 convolution on an edge of an input-to-output path (edges in the
    benchmark's order (1,0), (2,0), (2,1), (3,0), (3,1), (3,2); ops none, skip, 1x1, 3x3, pool)."""
    weight = study_module("nb201_angle_checks.py").live_conv_weight
    archs = [(3, 3, 3, 3, 3, 3),  # every edge a 3x3 convolution: 6 x 9
             (0, 0, 0, 3, 0, 0),  # only 0 -> 3
             (3, 0, 0, 0, 0, 0),  # a 3x3 on 0 -> 1 that reaches nothing: all paths cut
             (2, 0, 3, 0, 0, 1),  # 0 -> 1 -> 2 -> 3 through a 1x1, a 3x3 and a skip
             (3, 2, 0, 4, 0, 0)]  # 0 -> 3 by pooling; 0 -> 1 and 0 -> 2 are dead ends
    assert list(weight(np.array(archs))) == [54, 9, 0, 10, 0]


def test_cells_are_the_mean_sample_sd_and_t_interval_over_units():
    from common.report import mean_sd_ci

    values = [0.114, 0.021, 0.048]
    sd = np.std(values, ddof=1)
    assert sd == pytest.approx(1.2247 * np.std(values), rel=1e-4)  # not the population SD
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    assert mean_sd_ci(values, 4) == (f"{np.mean(values):.4f} (SD {sd:.4f}, 95% CI {np.mean(values) - half:.4f} to "
                                     f"{np.mean(values) + half:.4f}, n=3)")
    assert mean_sd_ci([92.72, None, float("nan")]) == "92.72 (n=1)" and mean_sd_ci([]) == "n/a"


def test_tau_bar_plot_has_error_bars_and_its_legend_beside_the_bars(tmp_path, monkeypatch):
    import common.report as report

    figures = []
    monkeypatch.setattr(report, "save_png", lambda fig, path, **kwargs: figures.append(fig))
    report.bar_plot({"CIFAR-10": {"A": -0.04, "B": 0.40, "D (RLNAS)": 0.357}}, tmp_path / "bars.png", "tau", "tau per method",
                    {"CIFAR-10": {"B": 0.0016, "D (RLNAS)": 0.0055}})
    report.line_plot([{"title": "ranking stability: tau vs the previous saved epoch's angle ranking, a long title",
                       "xlabel": "epoch", "ylabel": "tau", "series": {"s0": ([1, 2], [0.8, 0.9])}}] * 2, tmp_path / "lines.png")
    bars, lines = figures
    for fig in figures:
        fig.canvas.draw()
    renderer = bars.canvas.get_renderer()
    (ax,) = bars.axes
    from matplotlib.container import BarContainer

    assert [c.errorbar is not None for c in ax.containers if isinstance(c, BarContainer)] == [False, True, True]
    legend, axes = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1  # outside the axes: it covers no bar
    renderer = lines.canvas.get_renderer()
    for ax in lines.axes:  # the titles wrap and stay inside the figure
        box = ax.title.get_window_extent(renderer)
        assert "\n" in ax.get_title() and lines.bbox.x0 <= box.x0 and box.x1 <= lines.bbox.x1


def test_packaged_dataset_configs_are_the_shipped_ones():
    """The study configs read only files inside the package; their dataset configs are copies of
    configs/nas_bench_201/*.yaml and must not drift."""
    packaged = sorted((reproduce.config.EXPERIMENT_DIR / "datasets").glob("*.yaml"))
    assert [p.name for p in packaged] == ["base.yaml", "cifar10.yaml", "cifar100.yaml", "cpu_cifar10.yaml", "imagenet16.yaml"]
    for path in packaged:
        assert path.read_text() == (ROOT / "configs/nas_bench_201" / path.name).read_text(), path.name
