"""Helpers of the broker tests: a tiny NAS-Bench-201 run, worker processes, queue clean-up.

Run as a script it is a worker for tests: the real generic worker loop (``serve_main``) with the
NAS-Bench-201 scorer, optionally slowed down or made to hang (to be killed while holding a message),
or with a trivial deterministic scorer (the load test). Knobs come from the environment:
``RLNAS_TEST_DELAY`` (seconds per candidate), ``RLNAS_TEST_HOLD_FILE`` (on the first candidate, write
its arch string there and hang), ``RLNAS_TEST_TRIVIAL=1`` (score = benchmark index, no checkpoints).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
TRIVIAL_FINGERPRINT = "trivial-index-v1"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_run(run_dir: Path, channels: int = 8, seed: int = 0) -> Path:
    """Epoch-0 and 'trained' checkpoints of a tiny supernet (weights moved at random, no training), whose
    stored config is the quickstart's with that supernet, as ``write_config``'s searches expect."""
    from common.checkpoint import FORMAT_VERSION, save_checkpoint
    from common.config import load_config, to_dict
    from nas_bench_201.config import NB201Config
    from common.training import checkpoint_path
    from nas_bench_201.space import NAME
    from nas_bench_201.supernet import SupernetConfig, build_supernet

    torch.manual_seed(seed)
    state0 = build_supernet(SupernetConfig(channels=channels, cells_per_stage=1), 10).state_dict()
    generator = torch.Generator().manual_seed(seed + 1)
    state_t = {k: v + 0.3 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
               for k, v in state0.items()}
    config = to_dict(load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config,
                                 [f"model.channels={channels}", "model.cells_per_stage=1", f"seed={seed}"]))
    for epoch, state in ((0, state0), ("last", state_t)):
        save_checkpoint(checkpoint_path(run_dir, epoch), {"format": FORMAT_VERSION, "space": NAME, "config": config,
                                                          "epoch": 0 if epoch == 0 else 1, "model": state})
    return run_dir


def write_config(path: Path, prefix: str, **search) -> Path:
    """A quickstart-based config with the rabbitmq evaluator on the test broker and small timeouts."""
    import yaml

    amqp = {"url": URL, "queue_prefix": prefix, "task_timeout": 20.0, "reconnect_timeout": 30.0, "heartbeat": 10,
            **search.pop("amqp", {})}
    document = {"_base_": str(ROOT / "configs/nas_bench_201/quickstart.yaml"), "device": "cpu",
                "search": {"evaluator": "rabbitmq", "amqp": amqp, **search}}
    path.write_text(yaml.safe_dump(document))
    return path


def unique_prefix() -> str:
    return f"rlnas-test-{uuid.uuid4().hex[:10]}"


def channel():
    import pika

    return pika.BlockingConnection(pika.URLParameters(URL))


def wait_for_consumers(queue: str, count: int, timeout: float = 60.0, procs=()) -> None:
    """Block until ``queue`` has ``count`` consumers (the workers are up)."""
    deadline = time.monotonic() + timeout
    connection = channel()
    try:
        ch = connection.channel()
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {proc.returncode}: {Path(proc.args[-1]).name}")
            ch.queue_declare(queue, durable=True)
            if ch.queue_declare(queue, passive=True).method.consumer_count >= count:
                return
            time.sleep(0.2)
    finally:
        connection.close()
    raise TimeoutError(f"{count} workers did not attach to {queue} within {timeout} s")


def queue_depth(queue: str) -> int:
    connection = channel()
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def drain(queue: str) -> list:
    """All messages of ``queue`` as ``(properties, body)``, removed from it."""
    connection = channel()
    try:
        ch = connection.channel()
        messages = []
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((props, body))
    finally:
        connection.close()


def delete_queues(prefix: str) -> None:
    """Delete every queue whose name starts with ``prefix`` (the test's own queues)."""
    if shutil.which("rabbitmqctl") is None:  # clean-up is best effort: the queues' names are unique
        return
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True, timeout=60)
    names = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith(prefix)]
    if not names:
        return
    connection = channel()
    try:
        ch = connection.channel()
        for name in names:
            ch.queue_delete(name)
    finally:
        connection.close()


class Workers:
    """Worker subprocesses with their logs; ``stop()`` sends SIGTERM and returns their final counts."""

    def __init__(self, tmp_path: Path, args: list[str], count: int, stub: bool = False, env: dict | None = None,
                 module: str = "nas_bench_201.worker"):
        self.tmp_path, self.args, self.stub, self.module = tmp_path, args, stub, module
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {}))
        self.procs: list[subprocess.Popen] = []
        for _ in range(count):
            self.start()

    def start(self, env: dict | None = None) -> subprocess.Popen:
        index = len(self.procs)
        command = [sys.executable, str(Path(__file__))] if self.stub else [sys.executable, "-m", self.module]
        log = open(self.tmp_path / f"worker{index}.log", "w")
        proc = subprocess.Popen(command + self.args + ["--name", f"w{index}"], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env={**self.env, **(env or {})})
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, index: int) -> str:
        return (self.tmp_path / f"worker{index}.log").read_text()

    def stop(self) -> list[str]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return [self.log(i) for i in range(len(self.procs))]


def final_counts(log: str) -> dict:
    """The counters a worker logs when it stops."""
    import ast

    for line in reversed(log.splitlines()):
        if " stopped: " in line:
            return ast.literal_eval(line.split(" stopped: ", 1)[1])
    raise AssertionError(f"worker did not stop cleanly:\n{log[-2000:]}")


# ------------------------------------------------------------------------ the stub worker


def _stub_scoring(cfg, run_dir):
    from common.scoring import scoring
    from nas_bench_201.space import SPACE, index_of

    if os.environ.get("RLNAS_TEST_TRIVIAL") == "1":
        import numpy as np

        return SPACE, lambda archs: np.array([float(index_of(a)) for a in archs]), TRIVIAL_FINGERPRINT
    space, scorer, fingerprint = scoring(SPACE, cfg, run_dir)
    delay = float(os.environ.get("RLNAS_TEST_DELAY", "0"))
    hold = os.environ.get("RLNAS_TEST_HOLD_FILE")

    def score(archs):
        if hold and not Path(hold).exists():
            Path(hold).write_text(space.to_str(archs[0]))
            time.sleep(3600)  # hold the message until killed
        time.sleep(delay)
        return scorer(archs)

    return space, score, fingerprint


if __name__ == "__main__":
    from common.cli import run
    from common.evaluation.worker import serve_main
    from nas_bench_201.config import NB201Config

    sys.exit(run(lambda argv: serve_main("mq_support worker", NB201Config, _stub_scoring, argv)))
