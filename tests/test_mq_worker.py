"""The worker loop and the client evaluator against the real broker, with workers as threads.

Malformed messages, failing candidates, foreign jobs, unanswered tasks, duplicate replies, and clear
errors for bad credentials or an unreachable broker.
"""
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pika
import pytest

from common.cli import run
from common.evaluation.amqp import queue_names
from common.evaluation.config import AMQPConfig
from common.evaluation.protocol import job_id, request_for
from common.evaluation.rabbitmq import RabbitMQEvaluator
from common.evaluation.worker import Worker
from common.search import score_all
from nas_bench_201 import worker as nb201_worker
from nas_bench_201.space import NASBench201Space, arch_of, index_of

from mq_support import ROOT, URL, delete_queues, drain, make_run, queue_depth, unique_prefix, wait_for_consumers, write_config

pytestmark = pytest.mark.broker
SPACE = NASBench201Space()
ARCHS = [arch_of(i) for i in range(0, 15625, 701)]  # 23 architectures
PICKLE = b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07request\x94."  # pickle.dumps("request", 4)


def by_index(archs):
    return np.array([float(index_of(a)) for a in archs])


@pytest.fixture
def amqp():
    prefix = unique_prefix()
    yield AMQPConfig(url=URL, queue_prefix=prefix, task_timeout=20.0, reconnect_timeout=20.0, heartbeat=10)
    delete_queues(prefix)


class ThreadWorker:
    def __init__(self, score_fn, job: str, cfg: AMQPConfig):
        self.worker = Worker(SPACE, score_fn, job, cfg, name="thread")
        self.thread = threading.Thread(target=self.worker.serve, daemon=True)
        self.thread.start()
        wait_for_consumers(queue_names(cfg, job)[0], 1)

    def stop(self):
        self.worker.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        return self.worker.counts


def publish_raw(queue: str, body: bytes, **props) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2, **props), mandatory=True)
    finally:
        connection.close()


def test_malformed_messages_go_to_the_dead_letter_queue_and_the_worker_keeps_serving(amqp):
    job = job_id(SPACE.name, "angle", "malformed")
    requests, _, dead = queue_names(amqp, job)
    worker = ThreadWorker(by_index, job, amqp)
    bad = {
        "pickle": PICKLE,
        "text": b"score this please",
        "schema": json.dumps({"v": 1, "kind": "request", "job": job, "module": "os", "call": "system"}).encode(),
        "arch": request_for(job, SPACE.name, "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|").encode(),
        "space": request_for(job, "darts", SPACE.to_str(ARCHS[0])).encode(),
    }
    for name, body in bad.items():
        publish_raw(requests, body, message_id=name, content_type="application/json")
    with RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp) as evaluator:
        evaluator.submit(ARCHS[:3])
        assert evaluator.results() == {SPACE.to_str(a): float(index_of(a)) for a in ARCHS[:3]}
    counts = worker.stop()
    assert counts["dead_lettered"] == 5 and counts["scored"] == 3
    letters = {props.message_id: (props.headers["x-rlnas-reason"], body) for props, body in drain(dead)}
    assert set(letters) == set(bad)
    assert all(letters[name][1] == bad[name] for name in bad)  # the evidence is kept byte for byte
    assert "pickle payload refused" in letters["pickle"][0]
    assert "not JSON" in letters["text"][0]
    assert "unknown fields" in letters["schema"][0] and "missing fields" in letters["schema"][0]
    assert letters["arch"][0].startswith("unknown architecture") and "conv_9x9" in letters["arch"][0]
    assert "this worker serves 'nas_bench_201'" in letters["space"][0]
    assert queue_depth(requests) == 0


def test_a_failing_candidate_is_retried_then_reported_and_the_search_goes_on(amqp):
    job = job_id(SPACE.name, "angle", "failing")
    poison = {SPACE.to_str(ARCHS[4]), SPACE.to_str(ARCHS[9])}
    calls = []

    def score(archs):
        calls.append(SPACE.to_str(archs[0]))
        if calls[-1] in poison:
            raise RuntimeError("CUDA out of memory (simulated)")
        return by_index(archs)

    amqp.max_attempts = 3
    worker = ThreadWorker(score, job, amqp)
    with RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp) as evaluator:
        result = score_all(evaluator, ARCHS, top_k=5)
    counts = worker.stop()
    assert sorted(result.failed) == sorted(poison)
    assert result.scores == {SPACE.to_str(a): float(index_of(a)) for a in ARCHS if SPACE.to_str(a) not in poison}
    assert all(calls.count(key) == 3 for key in poison)  # exactly max_attempts tries each
    assert all(calls.count(SPACE.to_str(a)) == 1 for a in ARCHS if SPACE.to_str(a) not in poison)
    assert all("RuntimeError: CUDA out of memory" in evaluator.failures[key] and "failed 3 times" in evaluator.failures[key]
               for key in poison)
    assert counts["retried"] == 4 and counts["failed"] == 2
    letters = drain(queue_names(amqp, job)[2])
    assert len(letters) == 2 and all("failed 3 times" in props.headers["x-rlnas-reason"] for props, _ in letters)


def test_a_request_of_another_job_is_handed_to_that_jobs_queue(amqp):
    mine, other = job_id(SPACE.name, "angle", "mine"), job_id(SPACE.name, "angle", "other weights")
    worker = ThreadWorker(by_index, mine, amqp)
    body = request_for(other, SPACE.name, SPACE.to_str(ARCHS[0])).encode()
    publish_raw(queue_names(amqp, mine)[0], body)
    with RabbitMQEvaluator(mine, SPACE.name, SPACE.to_str, amqp) as evaluator:  # the worker still serves its own job
        evaluator.submit(ARCHS[:1])
        assert evaluator.results() == {SPACE.to_str(ARCHS[0]): float(index_of(ARCHS[0]))}
    counts = worker.stop()
    assert counts["forwarded"] == 1 and counts["scored"] == 1 and counts["dead_lettered"] == 0
    assert [b for _, b in drain(queue_names(amqp, other)[0])] == [body]  # waiting for the right workers


def test_unanswered_tasks_are_republished_then_reported_failed(amqp):
    amqp.task_timeout, amqp.max_publications = 0.5, 2
    job = job_id(SPACE.name, "angle", "nobody home")
    with RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp) as evaluator:
        evaluator.submit(ARCHS[:3])
        results = evaluator.results()
    assert results == {SPACE.to_str(a): None for a in ARCHS[:3]}
    assert all("no reply after 2 publications" in reason for reason in evaluator.failures.values())
    assert evaluator.counts["republished"] == 3 and evaluator.counts["published"] == 6
    assert queue_depth(queue_names(amqp, job)[0]) == 6


def test_duplicate_replies_count_once_and_malformed_replies_are_dead_lettered(amqp):
    job = job_id(SPACE.name, "angle", "duplicates")
    requests, replies, dead = queue_names(amqp, job)
    worker = ThreadWorker(by_index, job, amqp)
    evaluator = RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp)
    twice = SPACE.to_str(ARCHS[1])
    publish_raw(requests, request_for(job, SPACE.name, twice).encode())  # e.g. a re-published copy
    publish_raw(replies, PICKLE)
    with evaluator:
        evaluator.submit(ARCHS[:4])
        results = evaluator.results()
    worker.stop()
    assert results == {SPACE.to_str(a): float(index_of(a)) for a in ARCHS[:4]}
    assert evaluator.counts["answered"] == 4 and evaluator.counts["duplicates"] == 1
    [(props, body)] = drain(dead)
    assert body == PICKLE and "pickle payload refused" in props.headers["x-rlnas-reason"]


def test_heartbeats_keep_flowing_while_a_candidate_takes_long(amqp):
    amqp.heartbeat = 1  # the broker drops a connection silent for about 2 heartbeats

    def slow(archs):
        time.sleep(4)
        return by_index(archs)

    job = job_id(SPACE.name, "angle", "slow")
    worker = ThreadWorker(slow, job, amqp)
    with RabbitMQEvaluator(job, SPACE.name, SPACE.to_str, amqp) as evaluator:
        evaluator.submit(ARCHS[:1])
        assert evaluator.results() == {SPACE.to_str(ARCHS[0]): float(index_of(ARCHS[0]))}
    counts = worker.stop()
    assert counts["scored"] == 1 and counts["reconnects"] == 0 and counts["retried"] == 0
    assert evaluator.counts["reconnects"] == 0


@pytest.mark.parametrize("url, message", [
    ("amqp://guest:wrong-password@127.0.0.1:5672/%2F", "refused the credentials"),
    ("amqp://guest:guest@127.0.0.1:1/%2F", "cannot connect to the RabbitMQ broker at amqp://guest@127.0.0.1:1"),
    ("amqps://guest:guest@127.0.0.1:5672/%2F", "cannot connect to the RabbitMQ broker at amqps://"),
])
def test_bad_credentials_or_an_unreachable_broker_are_one_clear_line(tmp_path, capsys, url, message):
    run_dir = make_run(tmp_path / "run")
    config = write_config(tmp_path / "c.yaml", "rlnas-test-unused", amqp={"url": url, "connect_timeout": 5})
    capsys.readouterr()
    assert run(nb201_worker.main, ["--config", str(config), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert "wrong-password" not in err[-1] and "Traceback" not in "\n".join(err)


def test_the_search_stage_exits_2_on_refused_credentials(tmp_path):
    run_dir = make_run(tmp_path / "run")
    config = write_config(tmp_path / "c.yaml", "rlnas-test-unused", amqp={"url": None})
    env = dict(os.environ, PYTHONPATH=str(ROOT), RLNAS_AMQP_URL="amqp://guest:nope@127.0.0.1:5672/%2F")
    done = subprocess.run([sys.executable, "-m", "nas_bench_201.search", "--config", str(config), "--run-dir", str(run_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: the RabbitMQ broker at amqp://guest@127.0.0.1:5672")
    assert "nope" not in done.stderr
