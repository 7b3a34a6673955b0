"""Compute threads per process: the cores' share under torchrun, OMP_NUM_THREADS or train.threads."""
import pytest
import torch

from common.threads import configure_threads, default_threads, loader_workers, physical_cores
from common.data import DataConfig
from common.training import TrainConfig


def fake_sysfs(root, cores_of_cpus):
    for cpu, core in enumerate(cores_of_cpus):
        topology = root / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text("0\n")
        (topology / "core_id").write_text(f"{core}\n")
    return root


def test_hyper_threads_count_once(tmp_path):
    sysfs = fake_sysfs(tmp_path, [0, 1, 2, 3, 0, 1, 2, 3])  # 4 cores, 2 hyper-threads each
    assert physical_cores(sysfs, cpus=set(range(8))) == 4
    assert physical_cores(sysfs, cpus={0, 4}) == 1
    assert physical_cores(tmp_path / "missing", cpus={0, 1, 2}) == 3  # no topology: logical CPUs


def test_default_is_the_share_of_the_cores_less_the_loader_workers():
    assert default_threads(16) == 16
    assert default_threads(16, processes=8) == 2
    assert default_threads(16, processes=2, loader_workers=4) == 4
    assert default_threads(2, processes=4) == 1 and default_threads(2, loader_workers=4) == 1
    assert loader_workers(DataConfig(dataset="cifar10")) == 0
    imagenet = DataConfig(dataset="imagenet")
    assert loader_workers(imagenet) == imagenet.imagenet.num_workers


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_configure_threads_order_of_precedence(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert configure_threads(None) == 1 == torch.get_num_threads()  # the user's OMP_NUM_THREADS
    assert configure_threads(2) == 2 == torch.get_num_threads()  # train.threads wins
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")
    assert configure_threads(None) == 1 == torch.get_num_threads()  # more processes than cores
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert configure_threads(None, workers=0) == physical_cores() == torch.get_num_threads()


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        TrainConfig(threads=0)
    assert TrainConfig(threads=3).threads == 3 and TrainConfig().threads is None


def test_training_sets_and_logs_its_threads(tmp_path, caplog, restore_threads):
    from pathlib import Path

    from common.config import load_config
    from common.training import train_supernet
    from nas_bench_201.config import NB201Config
    from nas_bench_201.supernet import build_supernet

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs/nas_bench_201/quickstart.yaml", NB201Config,
                      ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=16",
                       "data.synthetic.image_size=8", "data.synthetic.num_test_images=0", "model.channels=2",
                       "model.cells_per_stage=1", "train.epochs=1", "train.batch_size=8", "train.threads=2"])
    torch.set_num_threads(1)
    with caplog.at_level("INFO", logger="rlnas"):
        train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), tmp_path / "run")
    assert torch.get_num_threads() == 2
    assert "compute threads: 2 per process (train.threads" in caplog.text
