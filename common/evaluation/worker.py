"""The generic evaluation worker: consumes one job's requests from RabbitMQ, scores, replies.

Every search space serves its candidates through the shared worker stage (``common.stages.worker``,
``python -m <space package>.worker`` or ``python -m common.stages worker --space NAME``), which hands
``serve_main`` a function building ``(space, scorer, fingerprint)`` from the space's config and run
directory (``common.scoring.scoring``).

``space`` needs ``name``, ``from_str`` and ``to_str``; ``scorer(list of archs)`` returns their scores
(``LocalEvaluator``'s ``score_fn``); the fingerprint changes whenever the scores would. The job id is
``job_id(space.name, cfg.search.score, fingerprint)``: the search computes the same id from the same
config, so workers and search meet on the job's queues, and a worker never answers a request whose
scores its own checkpoints cannot give (it forwards the request to that job's queue instead). On
the search side the search stage builds its evaluator from the same triple:
``with build_evaluator(cfg.search, space, scorer, scorer.fingerprint) as evaluator: ...``.

Per message: validate (malformed -> dead-letter queue with the reason, ack); score in a helper
thread while the connection keeps its heartbeats; publish the reply and wait for the broker's
confirm; only then ack. A scoring error, or a redelivery (the previous holder died or lost its
connection), counts as an attempt: the request is re-queued with its counter raised, and after
``amqp.max_attempts`` the task is reported failed to the search and dead-lettered with the error.
SIGTERM/SIGINT finish the current message and exit; a lost broker is reconnected.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from typing import Callable, Optional, Sequence

import pika

from ..cli import parse_stage, stage_parser
from ..errors import UserError
from .amqp import (RECOVERABLE_ERRORS, AMQPConfig, connection_parameters, dead_letter_headers, declare, describe,
                   open_connection, properties, publish_confirmed, queue_names)
from .protocol import ProtocolError, Reply, Request, job_id, parse_request

logger = logging.getLogger("rlnas")
CACHE_SIZE = 4096  # replies kept to answer a redelivered task without scoring it again
LOG_EVERY = 30.0  # seconds between progress lines


class Worker:
    def __init__(self, space, score_fn: Callable[[list], Sequence[float]], job: str, cfg: AMQPConfig,
                 name: Optional[str] = None):
        self.space, self.score_fn, self.job, self.cfg = space, score_fn, job, cfg
        self.params = connection_parameters(cfg, name=f"rlnas worker {job}")
        self.identity = f"{socket.gethostname()}:{os.getpid()}" + (f":{name}" if name else "")
        self.requests, self.replies, self.dead = queue_names(cfg, job)
        self.counts: Counter = Counter()
        self._stop = threading.Event()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._connection: Optional[pika.BlockingConnection] = None
        self._inbox: deque = deque()

    # ------------------------------------------------------------------ connection

    def _open(self, retry_for: float = 0.0) -> None:
        def setup(connection):
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
            declare(channel, self.cfg, self.job)
            self._inbox.clear()  # deliveries of a dead channel are redelivered by the broker
            self._consumer = channel.basic_consume(self.requests, on_message_callback=lambda *d: self._inbox.append(d))
            self._channel = channel

        self._connection = open_connection(self.params, setup, "worker", retry_for)

    def stop(self) -> None:
        """Finish the current message, then return from ``serve`` (safe from any thread)."""
        self._stop.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake the event loop
            except Exception:  # already closed
                pass

    def _on_signal(self, *_) -> None:
        if self._stop.is_set():  # second signal: leave now, the broker redelivers the held message
            raise KeyboardInterrupt
        logger.info("worker %s: stopping after the current message (signal again to stop now)", self.identity)
        self.stop()

    def serve(self) -> Counter:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        self._open()
        logger.info("worker %s serving job %s (%s) from %s, queue %s", self.identity, self.job, self.space.name,
                    describe(self.params), self.requests)
        last_log = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    self._connection.process_data_events(time_limit=1)
                    while self._inbox and not self._stop.is_set():
                        self._handle(*self._inbox.popleft())
                except RECOVERABLE_ERRORS as error:
                    if self._stop.is_set():
                        break
                    logger.warning("worker %s: connection lost (%s); reconnecting", self.identity, type(error).__name__)
                    self.counts["reconnects"] += 1
                    self._open(retry_for=self.cfg.reconnect_timeout)
                if time.monotonic() - last_log > LOG_EVERY:
                    last_log = time.monotonic()
                    logger.info("worker %s: %s", self.identity, dict(self.counts))
            self._finish()
        finally:
            try:
                if self._connection is not None and self._connection.is_open:
                    self._connection.close()
            except Exception:
                pass
        logger.info("worker %s stopped: %s", self.identity, dict(self.counts))
        return self.counts

    def _finish(self) -> None:
        """On a clean stop: take no more requests, answer the one already received (a request left
        to the broker would come back as redelivered and cost an attempt)."""
        try:
            self._channel.basic_cancel(self._consumer)
            while self._inbox:
                self._handle(*self._inbox.popleft())
        except RECOVERABLE_ERRORS:  # the broker redelivers whatever is left
            pass

    # ------------------------------------------------------------------ messages

    def _publish(self, queue: str, body: bytes, props: pika.BasicProperties) -> None:
        publish_confirmed(self._channel, queue, body, props, lambda name: self._channel.queue_declare(name, durable=True))

    def _dead_letter(self, body: bytes, props: pika.BasicProperties, reason: str) -> None:
        headers = {**(props.headers or {}), **dead_letter_headers(reason, self.requests), "x-rlnas-worker": self.identity}
        self._publish(self.dead, body, pika.BasicProperties(
            content_type=props.content_type, delivery_mode=pika.DeliveryMode.Persistent, type=props.type,
            message_id=props.message_id, headers=headers))
        self.counts["dead_lettered"] += 1
        logger.warning("worker %s: message dead-lettered to %s: %s", self.identity, self.dead, reason)

    def _reply(self, request: Request, status: str, score, error, attempts: int, seconds: float) -> bytes:
        return Reply(job=request.job, task=request.task, arch=request.arch, status=status, score=score,
                     error=error, attempts=attempts, worker=self.identity, seconds=round(seconds, 6)).encode()

    def _handle(self, channel, method, props, body: bytes) -> None:
        try:
            request = parse_request(body)
        except ProtocolError as error:
            self._dead_letter(body, props, str(error))
            return channel.basic_ack(method.delivery_tag)
        if request.job != self.job:  # not ours: hand it to the workers of its own job
            self._publish(queue_names(self.cfg, request.job)[0], body, properties("rlnas.request", request.task))
            self.counts["forwarded"] += 1
            return channel.basic_ack(method.delivery_tag)
        try:
            if request.space != self.space.name:
                raise UserError(f"space {request.space!r}, but this worker serves {self.space.name!r}")
            arch = self.space.from_str(request.arch)
            if self.space.to_str(arch) != request.arch:
                raise UserError(f"{request.arch!r} is not canonical ({self.space.to_str(arch)!r})")
        except Exception as error:
            self._dead_letter(body, props, f"unknown architecture: {error}")
            return channel.basic_ack(method.delivery_tag)
        cached = self._cache.get(request.task)
        if cached is not None:  # answered before, but the ack was lost with the connection
            self._publish(self.replies, cached, properties("rlnas.reply", request.task))
            self.counts["replayed"] += 1
            return channel.basic_ack(method.delivery_tag)
        if method.redelivered:  # the previous holder died (or lost its connection) while scoring
            return self._retry_or_fail(channel, method, props, body, request, "the worker scoring it was lost")
        start = time.perf_counter()
        outcome = self._score(arch)
        seconds = time.perf_counter() - start
        if isinstance(outcome, BaseException):
            return self._retry_or_fail(channel, method, props, body, request, f"{type(outcome).__name__}: {outcome}")
        score = outcome
        if math.isfinite(score):
            reply = self._reply(request, "ok", score, None, request.attempt + 1, seconds)
            self.counts["scored"] += 1
        else:  # deterministic: retrying cannot help
            reply = self._reply(request, "failed", None, f"non-finite score {score}", request.attempt + 1, seconds)
            self.counts["failed"] += 1
        self._publish(self.replies, reply, properties("rlnas.reply", request.task))
        self._remember(request.task, reply)
        channel.basic_ack(method.delivery_tag)

    def _score(self, arch) -> float | BaseException:
        """Score in a helper thread while this one keeps the connection's heartbeats flowing.

        A daemon thread, so that a second Ctrl-C ends a worker stuck in scoring (its message is
        then redelivered to another worker).
        """
        outcome: list = []
        connection = self._connection

        def target():
            try:
                outcome.append(float(self.score_fn([arch])[0]))
            except BaseException as error:  # reported as this attempt's failure
                outcome.append(error)
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake the event loop
            except Exception:  # the connection was lost meanwhile; the loop notices by itself
                pass

        thread = threading.Thread(target=target, name="score", daemon=True)
        thread.start()
        while not outcome:
            connection.process_data_events(time_limit=1)
        return outcome[0]

    def _remember(self, task: str, reply: bytes) -> None:
        self._cache[task] = reply
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _retry_or_fail(self, channel, method, props, body: bytes, request: Request, error: str) -> None:
        attempts = request.attempt + 1
        if attempts < self.cfg.max_attempts:
            self._publish(self.requests, request.retried().encode(), properties("rlnas.request", request.task))
            self.counts["retried"] += 1
            logger.warning("worker %s: attempt %d/%d of %s failed (%s); re-queued", self.identity, attempts,
                           self.cfg.max_attempts, request.arch, error)
        else:
            reason = f"failed {attempts} times, last: {error}"
            self._publish(self.replies, self._reply(request, "failed", None, reason, attempts, 0.0),
                          properties("rlnas.reply", request.task))
            self._dead_letter(body, props, reason)
            self.counts["failed"] += 1
        channel.basic_ack(method.delivery_tag)


def serve_main(prog: str, schema: type, scoring: Callable, argv=None) -> None:
    """``python -m <space>.worker``: load the config, build the space's scorer, serve its job until stopped."""
    parser = stage_parser(prog, "Serve candidate evaluation requests of a distributed search over RabbitMQ")
    parser.add_argument("--name", default=None, help="a label added to this worker's identity in replies and logs")
    args, cfg, run_dir = parse_stage(parser, schema, argv)
    space, score_fn, fingerprint = scoring(cfg, run_dir)
    job = job_id(space.name, cfg.search.score, fingerprint)
    Worker(space, score_fn, job, cfg.search.amqp, name=args.name).serve()
