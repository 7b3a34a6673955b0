import hashlib

import pytest
import torch

from common.checkpoint import load_checkpoint, save_checkpoint
from common.config import load_config
from common.errors import UserError
from common.training import TrainConfig, learning_rate, train_supernet
from nas_bench_201.config import NB201Config
from nas_bench_201.supernet import build_supernet

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
TINY = ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=96", "data.synthetic.image_size=16",
        "model.channels=4", "model.cells_per_stage=1", "train.epochs=3", "train.batch_size=32", "train.save_every=1"]


def tiny_config(tmp_path, extra=()):
    return load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, TINY + list(extra))


def train(cfg, run_dir, stop=None):
    return train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir, stop)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("zero_grad", ["drop", "zero"])
def test_resumed_run_ends_bit_identical_and_epoch_zero_is_never_rewritten(tmp_path, zero_grad):
    cfg = tiny_config(tmp_path, [f"train.zero_grad={zero_grad}"])
    train(cfg, tmp_path / "full")
    assert train(cfg, tmp_path / "split", stop=1) == 1
    epoch0 = tmp_path / "split/checkpoints/epoch_0000.pt"
    before = (digest(epoch0), epoch0.stat().st_mtime_ns)
    assert not (tmp_path / "split/checkpoints/epoch_0002.pt").exists()
    assert train(cfg, tmp_path / "split") == 3
    assert (digest(epoch0), epoch0.stat().st_mtime_ns) == before
    full = load_checkpoint(tmp_path / "full/checkpoints/last.pt", "nas_bench_201")
    split = load_checkpoint(tmp_path / "split/checkpoints/last.pt", "nas_bench_201")
    assert full["epoch"] == split["epoch"] == 3
    for key, value in full["model"].items():
        assert torch.equal(value, split["model"][key]), key
    for a, b in zip(full["optimizer"]["state"].values(), split["optimizer"]["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    initial = load_checkpoint(epoch0, "nas_bench_201")["model"]
    assert any(not torch.equal(initial[k], v) for k, v in full["model"].items())  # training moved the weights
    assert (tmp_path / "full/config.yaml").is_file() and list((tmp_path / "full/tb").iterdir())


def test_a_run_directory_of_another_config_is_refused(tmp_path):
    train(tiny_config(tmp_path, ["train.epochs=1"]), tmp_path / "run")
    with pytest.raises(UserError, match=r"another training config \(saved -> given: train.lr: 0.1 -> 0.5\)"):
        train(tiny_config(tmp_path, ["train.epochs=1", "train.lr=0.5"]), tmp_path / "run")
    assert train(tiny_config(tmp_path, ["train.epochs=1", "train.log_every=7"]), tmp_path / "run") == 1


def test_learning_rate_schedule_matches_the_released_code():
    cfg = TrainConfig()
    assert learning_rate(cfg, 0, 5, 391) == pytest.approx(0.025)
    for epoch in (1, 100, 249):
        expected = 0.001 + 0.024 * (1 + torch.cos(torch.tensor(torch.pi * epoch / 250)).item()) / 2
        assert learning_rate(cfg, epoch, 0, 391) == pytest.approx(expected)
    warm = TrainConfig(warmup_epochs=2, schedule="linear", schedule_per="step", lr=0.5, min_lr=0.0, epochs=10)
    assert learning_rate(warm, 0, 0, 10) == pytest.approx(0.025)
    assert learning_rate(warm, 2, 0, 10) == pytest.approx(0.5)
    assert learning_rate(warm, 6, 0, 10) == pytest.approx(0.25)


def test_checkpoint_of_another_space_or_not_a_checkpoint(tmp_path):
    payload = {"format": 1, "space": "darts", "config": {}, "epoch": 0, "model": {}}
    save_checkpoint(tmp_path / "darts.pt", payload)
    with pytest.raises(UserError, match="checkpoint of search space 'darts', expected 'nas_bench_201'"):
        load_checkpoint(tmp_path / "darts.pt", "nas_bench_201")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"format": 1, "space": "x", "config": {}, "epoch": 0, "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="holds Python objects other than tensors"):
        load_checkpoint(tmp_path / "evil.pt")


def test_a_truncated_last_checkpoint_resumes_from_the_newest_epoch_checkpoint(tmp_path, caplog):
    cfg = tiny_config(tmp_path)
    train(cfg, tmp_path / "full")
    train(cfg, tmp_path / "split", stop=2)
    last = tmp_path / "split/checkpoints/last.pt"
    (tmp_path / "split/checkpoints/epoch_0002.pt").write_bytes(last.read_bytes()[:1000])  # both newest files torn
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="rlnas"):
        assert train(cfg, tmp_path / "split") == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("last.pt" in w and "truncated" in w for w in warnings)
    assert any("resuming from" in w and "epoch_0001.pt (epoch 1)" in w for w in warnings)
    full = load_checkpoint(tmp_path / "full/checkpoints/last.pt", "nas_bench_201")
    split = load_checkpoint(last, "nas_bench_201")
    for key, value in full["model"].items():
        assert torch.equal(value, split["model"][key]), key
    for a, b in zip(full["optimizer"]["state"].values(), split["optimizer"]["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    cfg = tiny_config(tmp_path, ["train.epochs=1"])
    train(cfg, tmp_path / "run")
    for path in (tmp_path / "run/checkpoints").glob("*.pt"):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="last.pt: not a readable checkpoint"):
        train(cfg, tmp_path / "run")


def test_a_run_resumes_with_the_other_sgd_kernels(tmp_path, monkeypatch):
    """A run begun on the CPU (foreach SGD: momentum buffers of the weights trained so far only)
    resumes on a GPU with fused SGD (here fused on the CPU), which steps only with a buffer for every
    parameter; a run begun with fused SGD resumes with foreach. Each keeps the kernels of the process
    that resumes it (PyTorch would take the checkpoint's) and ends where a foreach run ends."""
    import common.trainer as trainer

    def fused(on: bool):
        kernels = {"fused": True} if on else {"foreach": True}
        monkeypatch.setattr(trainer, "sgd_kernels", lambda params, foreach=True: kernels)

    cfg = tiny_config(tmp_path)
    train(cfg, tmp_path / "foreach")
    reference = load_checkpoint(tmp_path / "foreach/checkpoints/last.pt", "nas_bench_201")
    for name, first, then in (("to_fused", False, True), ("to_foreach", True, False)):
        fused(first)
        assert train(cfg, tmp_path / name, stop=1) == 1
        fused(then)
        assert train(cfg, tmp_path / name) == 3
        result = load_checkpoint(tmp_path / name / "checkpoints/last.pt", "nas_bench_201")
        group = result["optimizer"]["param_groups"][0]
        assert bool(group["fused"]) == then and bool(group["foreach"]) == (not then), (name, group)
        for key, value in reference["model"].items():
            torch.testing.assert_close(result["model"][key], value, rtol=1e-5, atol=1e-6, msg=f"{name} {key}")


def test_a_run_that_fails_on_its_data_leaves_only_its_log_and_the_next_run_starts_afresh(tmp_path, capsys):
    from common.cli import run
    from nas_bench_201.train_supernet import main

    config = str(ROOT / "configs/nas_bench_201/quickstart.yaml")
    run_dir = tmp_path / "run"
    sets = [arg for item in TINY + ["train.epochs=1"] for arg in ("--set", item)]
    missing = ["--set", "data.dataset=imagefolder", "--set", f"data.root={tmp_path / 'no_such_folder'}"]
    assert run(main, ["--config", config, "--run-dir", str(run_dir), *sets, *missing]) == 2
    assert [p.name for p in run_dir.iterdir()] == ["log.txt"]
    assert (run_dir / "log.txt").read_text().splitlines()[-1].endswith(capsys.readouterr().err.strip().splitlines()[-1])
    assert run(main, ["--config", config, "--run-dir", str(run_dir), *sets]) == 0
    assert (run_dir / "checkpoints/last.pt").is_file()
