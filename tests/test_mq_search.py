"""Distributed searches end to end: worker processes, the real broker, failures injected on purpose.

The same search with 3 workers and with ``LocalEvaluator`` gives the identical result; so does one
whose worker is SIGKILLed while holding a message, one whose connections the broker drops midway,
and one during which the broker restarts. 10,000 tasks through 4 workers arrive once each.
"""
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from common.config import load_config
from common.evaluation import LocalEvaluator, build_evaluator
from common.evaluation.amqp import queue_names
from common.evaluation.protocol import job_id
from common.evaluation.rabbitmq import RabbitMQEvaluator
from common.search import run_strategy
from nas_bench_201.config import NB201Config
from nas_bench_201.scoring import build_scorer
from nas_bench_201.search import checkpoints, search
from nas_bench_201.space import NASBench201Space, benchmark_archs, index_of

from mq_support import (TRIVIAL_FINGERPRINT, Workers, delete_queues, final_counts, make_run, queue_depth,
                        unique_prefix, wait_for_consumers, write_config)

pytestmark = pytest.mark.broker
SPACE = NASBench201Space()
EVOLUTION = {"population": 30, "iterations": 6, "top_k": 8, "mutations": 12, "crossovers": 12}


@pytest.fixture
def setup(tmp_path):
    """A tiny supernet run and a rabbitmq config on queues of this test alone."""
    prefix = unique_prefix()
    run_dir = make_run(tmp_path / "run")
    config = write_config(tmp_path / "search.yaml", prefix, evolution=EVOLUTION)
    cfg = load_config(config, NB201Config)
    scorer = build_scorer(cfg, *checkpoints(cfg.search, run_dir))
    job = job_id(SPACE.name, cfg.search.score, scorer.fingerprint)
    yield {"tmp": tmp_path, "run": run_dir, "config": config, "cfg": cfg, "scorer": scorer, "job": job,
           "args": ["--config", str(config), "--run-dir", str(run_dir)], "requests": queue_names(cfg.search.amqp, job)[0]}
    delete_queues(prefix)


def local_result(s):
    return run_strategy(SPACE, LocalEvaluator(SPACE.to_str, s["scorer"]), s["cfg"].search, s["cfg"].seed,
                        scorer_id=s["scorer"].fingerprint)


def assert_same(result, expected):
    assert result.top == expected.top and result.scores == expected.scores  # bit for bit
    assert result.history == expected.history and result.failed == [] == expected.failed


def test_three_workers_give_exactly_the_local_result(setup):
    s = setup
    workers = Workers(s["tmp"], s["args"], 3)  # python -m nas_bench_201.worker, as a user runs it
    try:
        wait_for_consumers(s["requests"], 3, procs=workers.procs)
        remote = search(s["cfg"], s["run"], out_dir=s["tmp"] / "remote")
        s["cfg"].search.evaluator = "local"
        local = search(s["cfg"], s["run"], out_dir=s["tmp"] / "local")
    finally:
        logs = workers.stop()
    remote_config, local_config = remote.pop("config"), local.pop("config")  # each records its own config
    assert remote_config["search"].pop("evaluator") == "rabbitmq" and local_config["search"].pop("evaluator") == "local"
    assert remote_config == local_config
    assert remote == local and remote["evaluated"] == 180 and remote["failed"] == []
    scored = [final_counts(log).get("scored", 0) for log in logs]
    assert sum(scored) == 180 and min(scored) > 0  # every candidate scored once, by all three workers


def run_in_thread(s, evaluator):
    out = {}

    def target():
        try:
            out["result"] = run_strategy(SPACE, evaluator, s["cfg"].search, s["cfg"].seed, scorer_id=s["scorer"].fingerprint)
        except BaseException as error:  # surfaced by the test
            out["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_a_worker_killed_while_holding_a_message(setup):
    s = setup
    hold = s["tmp"] / "held.txt"
    workers = Workers(s["tmp"], s["args"], 2, stub=True, env={"RLNAS_TEST_DELAY": "0.002"})
    holder = workers.start(env={"RLNAS_TEST_HOLD_FILE": str(hold)})
    try:
        wait_for_consumers(s["requests"], 3, procs=workers.procs)
        evaluator = build_evaluator(s["cfg"].search, SPACE, s["scorer"], s["scorer"].fingerprint)
        thread, out = run_in_thread(s, evaluator)
        deadline = time.monotonic() + 60
        while not hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hold.exists(), "the holding worker never received a message"
        time.sleep(0.2)
        held = hold.read_text()
        holder.send_signal(signal.SIGKILL)  # dies with the message unacknowledged
        thread.join(timeout=120)
        evaluator.close()
    finally:
        logs = workers.stop()
    assert "error" not in out, out.get("error")
    expected = local_result(s)
    assert_same(out["result"], expected)
    assert held in out["result"].scores
    assert evaluator.counts["answered"] == len(expected.scores) and evaluator.counts["duplicates"] == 0
    survivors = [final_counts(log) for log in logs[:2]]
    assert sum(c.get("scored", 0) for c in survivors) == len(expected.scores)  # the held one too, once
    assert sum(c.get("retried", 0) for c in survivors) == 1  # the redelivery was counted as an attempt


DISRUPTIONS = {  # run while the search is in the middle of a generation
    "dropped_connections": "rabbitmqctl -q close_all_connections 'rlnas test: connections dropped'",
    "broker_restart": "rabbitmqctl -q stop_app && sleep 1 && rabbitmqctl -q start_app",
}


@pytest.mark.parametrize("disruption", sorted(DISRUPTIONS))
def test_client_and_workers_survive_the_broker_dropping_everything(setup, disruption):
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("RLNAS_REQUIRE_BROKER") == "1":
            pytest.fail("rabbitmqctl is required to drop the broker's connections")
        pytest.skip("rabbitmqctl not available")
    s = setup
    workers = Workers(s["tmp"], s["args"], 3, stub=True, env={"RLNAS_TEST_DELAY": "0.02"})
    try:
        wait_for_consumers(s["requests"], 3, procs=workers.procs)
        evaluator = build_evaluator(s["cfg"].search, SPACE, s["scorer"], s["scorer"].fingerprint)
        thread, out = run_in_thread(s, evaluator)
        deadline = time.monotonic() + 60
        while evaluator.counts["answered"] < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        answered_before = evaluator.counts["answered"]
        done = subprocess.run(DISRUPTIONS[disruption], shell=True, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        thread.join(timeout=180)
        evaluator.close()
    finally:
        subprocess.run("rabbitmqctl -q start_app", shell=True, capture_output=True, timeout=120)  # no-op when running
        logs = workers.stop()
    assert "error" not in out, out.get("error")
    expected = local_result(s)
    assert 40 <= answered_before < len(expected.scores)  # the drop came in the middle of the search
    assert_same(out["result"], expected)
    assert evaluator.counts["reconnects"] >= 1
    assert all(final_counts(log).get("reconnects", 0) >= 1 for log in logs)  # every worker came back


def test_ten_thousand_tasks_through_four_workers(tmp_path):
    prefix = unique_prefix()
    config = write_config(tmp_path / "load.yaml", prefix)
    amqp = load_config(config, NB201Config).search.amqp
    job = job_id(SPACE.name, "angle", TRIVIAL_FINGERPRINT)
    requests, replies, dead = queue_names(amqp, job)
    workers = Workers(tmp_path, ["--config", str(config), "--run-dir", str(tmp_path / "run")], 4, stub=True,
                      env={"RLNAS_TEST_TRIVIAL": "1"})
    archs = [tuple(a) for a in benchmark_archs()[:10_000]]
    try:
        wait_for_consumers(requests, 4, procs=workers.procs)
        with RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp) as evaluator:
            start = time.perf_counter()
            evaluator.submit(archs)
            results = evaluator.results()
            seconds = time.perf_counter() - start
        depths = [queue_depth(q) for q in (requests, replies, dead)]
    finally:
        logs = workers.stop()
        delete_queues(prefix)
    assert len(results) == 10_000 and all(results[SPACE.to_str(a)] == float(index_of(a)) for a in archs)
    assert evaluator.counts["published"] == 10_000 and evaluator.counts["answered"] == 10_000
    assert evaluator.counts["duplicates"] == 0 and evaluator.counts["stale"] == 0
    counts = [final_counts(log) for log in logs]
    assert sum(c.get("scored", 0) for c in counts) == 10_000 and all(c.get("scored", 0) > 0 for c in counts)
    assert depths == [0, 0, 0]
    print(f"10,000 tasks in {seconds:.1f} s ({10_000 / seconds:.0f} tasks/s) through 4 workers")
