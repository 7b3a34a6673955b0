"""Distributed evaluation throughput: tasks/s through the broker with 1, 2 and 4 NAS-Bench-201 workers.

    source scripts/env.sh && RLNAS_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F \\
        python scripts/bench/mq_throughput.py [--tasks 2000] [--workers 1 2 4]

Trains a tiny supernet for one epoch (quickstart config, a few synthetic images), starts real
``python -m nas_bench_201.worker`` processes on its checkpoints, and times ``RabbitMQEvaluator``
scoring ``--tasks`` architectures by angle (one persistent, confirmed message per candidate each way,
prefetch 1), next to the in-process ``LocalEvaluator`` for scale. Queues are deleted afterwards.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import print_table  # noqa: E402

from common.cli import run, setup_logging  # noqa: E402
from common.config import load_config  # noqa: E402
from common.evaluation import LocalEvaluator, evaluate  # noqa: E402
from common.evaluation.amqp import resolve_url  # noqa: E402
from common.evaluation.protocol import job_id  # noqa: E402
from common.evaluation.rabbitmq import RabbitMQEvaluator  # noqa: E402
from nas_bench_201.config import NB201Config  # noqa: E402
from nas_bench_201.scoring import build_scorer  # noqa: E402
from nas_bench_201.search import checkpoints  # noqa: E402
from nas_bench_201.space import NASBench201Space, benchmark_archs  # noqa: E402

QUICKSTART = ROOT / "configs/nas_bench_201/quickstart.yaml"


def train_tiny(run_dir: Path) -> None:
    sets = ["train.epochs=1", "data.synthetic.num_images=128", "data.synthetic.num_test_images=32"]
    command = [sys.executable, "-m", "nas_bench_201.train_supernet", "--config", str(QUICKSTART), "--run-dir", str(run_dir)]
    for item in sets:
        command += ["--set", item]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_workers(count: int, overrides: list[str], run_dir: Path, log_dir: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = []
    for index in range(count):
        with open(log_dir / f"worker{count}_{index}.log", "w") as log:
            command = [sys.executable, "-m", "nas_bench_201.worker", "--config", str(QUICKSTART), "--run-dir", str(run_dir),
                       "--name", f"bench{index}"]
            for item in overrides:
                command += ["--set", item]
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="architectures scored per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args(argv)
    resolve_url(NB201Config().search.amqp)  # fail early, in one line, without a broker address
    setup_logging()
    space = NASBench201Space()
    archs = [tuple(a) for a in benchmark_archs()[: args.tasks]]
    prefix = f"rlnas-bench-{uuid.uuid4().hex[:8]}"
    overrides = ["search.evaluator=rabbitmq", f"search.amqp.queue_prefix={prefix}"]
    with tempfile.TemporaryDirectory(prefix="mq_bench_") as tmp:
        run_dir = Path(tmp) / "run"
        print("training a tiny supernet for one epoch ...", flush=True)
        train_tiny(run_dir)
        cfg = load_config(QUICKSTART, NB201Config, overrides)
        scorer = build_scorer(cfg, *checkpoints(cfg.search, run_dir))
        job = job_id(space.name, cfg.search.score, scorer.fingerprint)
        start = time.perf_counter()
        expected = evaluate(LocalEvaluator(space.to_str, scorer), archs)
        local_seconds = time.perf_counter() - start
        rows = [["local (in-process)", len(archs), f"{local_seconds:.3f}", f"{len(archs) / local_seconds:,.0f}", "-"]]
        base = None
        evaluator = RabbitMQEvaluator(job, space.name, space.to_str, cfg.search.amqp)
        try:
            for count in args.workers:
                procs = start_workers(count, overrides, run_dir, Path(tmp))
                try:
                    deadline = time.monotonic() + 120
                    while evaluator.workers() < count:
                        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                            raise SystemExit(f"error: {count} workers did not start (logs in {tmp})")
                        time.sleep(0.2)
                    start = time.perf_counter()
                    results = evaluate(evaluator, archs)
                    seconds = time.perf_counter() - start
                finally:
                    stop(procs)
                if results != expected:
                    raise SystemExit("error: distributed scores differ from local ones")
                rate = len(archs) / seconds
                base = base or rate
                rows.append([f"rabbitmq, {count} worker(s)", len(archs), f"{seconds:.3f}", f"{rate:,.0f}", f"{rate / base:.2f}x"])
        finally:
            evaluator.delete_queues()
            evaluator.close()
    print(f"\nNAS-Bench-201 angle scoring through {resolve_url(cfg.search.amqp).split('@')[-1]} "
          f"({os.cpu_count()} CPU cores on this machine)")
    print_table(["evaluator", "tasks", "seconds", "tasks/s", "vs 1 worker"], rows)


if __name__ == "__main__":
    sys.exit(run(main))
