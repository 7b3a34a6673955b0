"""The DARTS and MobileNet workers: a search served by a real worker process over the broker gives
exactly the result of the same search scored in-process."""
import json
import shutil
from pathlib import Path

import pytest

import darts_search_space.search
import darts_search_space.train_supernet
import darts_search_space.worker
import mobilenet_search_space.search
import mobilenet_search_space.train_supernet
import mobilenet_search_space.worker
from common.config import load_config
from common.evaluation.amqp import queue_names
from common.evaluation.protocol import job_id
from darts_search_space.config import DartsConfig
from mobilenet_search_space.config import MobileNetConfig

from mq_support import URL, Workers, delete_queues, unique_prefix, wait_for_consumers

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[1]

SPACES = {
    "darts": (darts_search_space, DartsConfig, "configs/darts/quickstart.yaml", [
        "data.synthetic.num_images=64", "data.synthetic.num_test_images=32", "data.synthetic.image_size=32",
        "model.channels=4", "model.layers=3", "train.epochs=1", "train.batch_size=32",
        "search.evolution.iterations=2", "flops.max_flops_M=450"]),
    "mobilenet": (mobilenet_search_space, MobileNetConfig, "configs/mobilenet/quickstart.yaml", [
        "model.width_mult=0.1", "train.epochs=1", "train.batch_size=32",
        "data.synthetic={num_images: 96, num_test_images: 32, num_classes: 10, image_size: 32}",
        "search.evolution={population: 20, iterations: 2, top_k: 5, mutations: 10, crossovers: 10}"]),
}


def with_sets(args, items):
    return args + [part for item in items for part in ("--set", item)]


@pytest.mark.parametrize("name", sorted(SPACES))
def test_a_worker_process_serves_the_search_exactly(name, tmp_path):
    package, config_class, config, overrides = SPACES[name]
    prefix = unique_prefix()
    remote = overrides + ["search.evaluator=rabbitmq", f"search.amqp.url={URL}", f"search.amqp.queue_prefix={prefix}",
                          "search.amqp.task_timeout=20"]
    args = ["--config", str(ROOT / config), "--run-dir", str(tmp_path)]
    package.train_supernet.main(with_sets(args, overrides))

    cfg = load_config(ROOT / config, config_class, overrides=remote)
    space, _, fingerprint = package.worker.scoring(cfg, tmp_path)
    requests = queue_names(cfg.search.amqp, job_id(space.name, cfg.search.score, fingerprint))[0]
    workers = Workers(tmp_path, with_sets(args, remote), 1, module=f"{package.__name__}.worker")
    try:
        wait_for_consumers(requests, 1, procs=workers.procs)
        package.search.main(with_sets(args, remote))
        served = json.loads((tmp_path / "search/result.json").read_text())
    finally:
        logs = workers.stop()
        delete_queues(prefix)
    shutil.rmtree(tmp_path / "search")
    package.search.main(with_sets(args, overrides))
    local = json.loads((tmp_path / "search/result.json").read_text())
    assert served["top"] == local["top"] and served["history"] == local["history"]
    assert served["evaluated"] == local["evaluated"] > 0 and served["failed"] == []
    assert f"'scored': {served['evaluated']}" in logs[0]  # this worker scored every candidate
