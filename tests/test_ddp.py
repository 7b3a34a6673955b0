"""Supernet training with DDP: two CPU processes on the gloo backend, spawned by the test or by torchrun."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from common.device_ops import to_channels_last
from common.checkpoint import load_checkpoint
from common.config import load_config
from common.data import build_training_data, rank_slice
from common.seeding import derive_seed, numpy_rng
from common.training import build_optimizer, learning_rate
from nas_bench_201.config import NB201Config
from nas_bench_201.supernet import build_supernet

ROOT = Path(__file__).resolve().parents[1]
# 100 images, global batch 32: 3 full steps and a final 4-image batch (2 per rank) per epoch
TINY = ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=100", "data.synthetic.image_size=16",
        "data.synthetic.num_test_images=0", "model.channels=4", "model.cells_per_stage=1", "train.epochs=2",
        "train.batch_size=32", "train.save_every=1", "train.log_every=1", "train.lr=0.1"]


def tiny_config(extra=()):
    return load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, TINY + list(extra))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, run_dir: str, overrides: list) -> None:
    """One rank, with the environment torchrun would give it; records who writes checkpoints."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    import common.trainer as trainer
    import common.training as training

    original = trainer.save_checkpoint

    def recording_save(path, payload):
        with open(Path(run_dir).parent / f"saves_rank{rank}.txt", "a") as log:
            log.write(f"{Path(path).name}\n")
        original(path, payload)

    trainer.save_checkpoint = recording_save
    cfg = tiny_config(overrides)
    training.train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), Path(run_dir))


def spawn_training(tmp_path: Path, overrides=()) -> Path:
    run_dir = tmp_path / "ddp"
    mp.start_processes(_worker, args=(2, free_port(), str(run_dir), list(overrides)), nprocs=2, start_method="spawn")
    return run_dir


def reference_run(cfg, initial: dict, world: int = 2) -> dict:
    """A single process on the same global batches: each global batch is cut into the ranks' parts,
    each part runs forward/backward on the same path with its loss divided by the number of parts
    (DDP averages the ranks' gradients, and BatchNorm sees one part at a time, as on each rank)."""
    loader, labels = build_training_data(cfg.data, cfg.labels, cfg.seed, cfg.train.batch_size, device="cpu",
                                         rank=0, world_size=1)
    torch.manual_seed(derive_seed(cfg.seed, "init"))
    model = build_supernet(cfg.model, labels.num_classes)
    model.load_state_dict(initial)
    # the trainer's memory format: another one changes float rounding, which this chaotic tiny run
    # (random labels, lr 0.1) amplifies by orders of magnitude within a few steps
    layout = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
    model = to_channels_last(model) if cfg.train.channels_last else model  # with its BatchNorm, as the trainer
    optimizer = build_optimizer(model, cfg.train)
    for index in range(cfg.train.epochs):
        path_rng = numpy_rng(cfg.seed, "paths", index)
        batches = list(loader.epoch(index))[:cfg.train.max_steps_per_epoch]
        for step, (images, targets) in enumerate(batches):
            keep = len(images) - len(images) % world  # the final partial batch is cut to equal parts
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg.train, index, step, len(batches))
            path = model.sample_path(path_rng)
            optimizer.zero_grad(set_to_none=cfg.train.zero_grad == "drop")  # as train_step
            for rank in range(world):
                part = rank_slice(keep, rank, world)
                loss = F.cross_entropy(model(images[part].contiguous(memory_format=layout), path), targets[part]) / world
                loss.backward()
            optimizer.step()
    return model.state_dict()


def test_ddp_run_equals_a_single_process_on_the_global_batch_and_only_rank0_writes(tmp_path):
    cfg = tiny_config()
    run_dir = spawn_training(tmp_path)
    saves0 = (tmp_path / "saves_rank0.txt").read_text().split()
    assert saves0 == ["epoch_0000.pt", "last.pt", "epoch_0001.pt", "last.pt", "epoch_0002.pt", "last.pt"]
    assert not (tmp_path / "saves_rank1.txt").exists()  # rank 1 never wrote a checkpoint
    assert len(list((run_dir / "tb").iterdir())) == 1
    log = (run_dir / "log.txt").read_text()
    assert log.count("epoch 2/2:") == 1 and "2 processes" in log

    initial = load_checkpoint(run_dir / "checkpoints/epoch_0000.pt", "nas_bench_201")["model"]
    trained = load_checkpoint(run_dir / "checkpoints/last.pt", "nas_bench_201")["model"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the ranks: the thread count changes how convolutions round
    try:
        expected = reference_run(cfg, initial)
    finally:
        torch.set_num_threads(threads)
    names = [name for name, _ in build_supernet(cfg.model, 10).named_parameters()]
    moved = 0
    for name in names:
        assert torch.allclose(trained[name], expected[name], rtol=0, atol=1e-5), name
        moved += not torch.equal(trained[name], initial[name])
    assert moved > 0.5 * len(names)  # most weights trained; an untouched one (never on a path) stays equal
    for name in names:  # weights that no sampled path used keep their initial values on both sides
        if torch.equal(expected[name], initial[name]):
            assert torch.equal(trained[name], initial[name]), name


def torchrun(run_dir: Path, *extra: str, script: bool = False) -> subprocess.CompletedProcess:
    config = str(ROOT / "configs/nas_bench_201/quickstart.yaml")
    if script:  # the user's wrapper: NPROC CONFIG [args]
        command = ["bash", str(ROOT / "scripts/nas_bench_201/train_supernet_ddp.sh"), "2", config, "--run-dir", str(run_dir)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                   "-m", "nas_bench_201.train_supernet", "--config", config, "--run-dir", str(run_dir)]
    for item in TINY + ["train.epochs=3"]:
        command += ["--set", item]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run(command + list(extra), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_resume_under_torchrun_ends_identical_to_an_uninterrupted_run(tmp_path):
    torchrun(tmp_path / "full", script=True)
    torchrun(tmp_path / "split", "--stop-after-epoch", "1")
    assert not (tmp_path / "split/checkpoints/epoch_0002.pt").exists()
    torchrun(tmp_path / "split")
    full = load_checkpoint(tmp_path / "full/checkpoints/last.pt", "nas_bench_201")
    split = load_checkpoint(tmp_path / "split/checkpoints/last.pt", "nas_bench_201")
    assert full["epoch"] == split["epoch"] == 3 and full["global_step"] == split["global_step"] == 12
    for key, value in full["model"].items():
        assert torch.equal(value, split["model"][key]), key
    for a, b in zip(full["optimizer"]["state"].values(), split["optimizer"]["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])


def test_batch_size_must_split_over_the_processes(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "nas_bench_201.train_supernet", "--config", str(ROOT / "configs/nas_bench_201/quickstart.yaml"),
               "--run-dir", str(tmp_path / "odd")] + [arg for item in TINY + ["train.batch_size=33"] for arg in ("--set", item)]
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "train.batch_size=33 (the global batch) is not divisible by the 2 processes" in result.stderr
