"""``RabbitMQEvaluator``: the search's side of distributed evaluation (docs/design.md section 6).

``results()`` publishes one persistent request per submitted candidate to the job's durable request
queue (publisher confirms, pipelined), then consumes replies until every candidate is answered:

- replies are de-duplicated by task id (a redelivered or re-published task may be answered twice);
  replies to tasks this call did not ask for (late duplicates, an earlier search of the same job) are
  dropped;
- when no reply at all arrived for ``amqp.task_timeout`` seconds, the unanswered tasks are published
  again; a task published ``amqp.max_publications`` times without an answer is reported failed;
- a lost connection (broker restart, dropped connections) is reopened for up to
  ``amqp.reconnect_timeout`` seconds and the requests whose publication was not confirmed are sent again;
- tasks the workers could not score (after their bounded retries) come back as failed replies.

Failed candidates score ``None`` (the search lists them as failed); ``failures`` keeps the reasons.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable, Optional, Sequence

import pika

from .amqp import (RECOVERABLE_ERRORS, AMQPConfig, PipelinedPublisher, connection_parameters, dead_letter_headers,
                   declare, describe, open_connection, properties, queue_names)
from .protocol import ProtocolError, Request, parse_reply, request_for

logger = logging.getLogger("rlnas")
LOG_EVERY = 10.0  # seconds between progress lines while waiting


class RabbitMQEvaluator:
    def __init__(self, job: str, space_name: str, to_str: Callable[[object], str], cfg: AMQPConfig):
        self.job, self.space_name, self.to_str, self.cfg = job, space_name, to_str, cfg
        self.params = connection_parameters(cfg, name=f"rlnas search {job}")
        self.requests, self.replies, self.dead = queue_names(cfg, job)
        self.failures: dict[str, str] = {}  # arch string -> why it has no score (all calls so far)
        self.counts: Counter = Counter()
        self.by_worker: Counter = Counter()  # answers per worker identity (host:pid[:name])
        self._pending: list[str] = []
        self._connection: Optional[pika.BlockingConnection] = None
        self._open()
        logger.info("rabbitmq evaluator: job %s on %s, queue %s", job, describe(self.params), self.requests)

    # ------------------------------------------------------------------ connection

    def _open(self, retry_for: float = 0.0) -> None:
        def setup(connection):
            channel = connection.channel()
            declare(channel, self.cfg, self.job)
            channel.basic_qos(prefetch_count=1000)
            channel.basic_consume(self.replies, on_message_callback=self._on_reply)
            self._channel = channel
            self._publisher = PipelinedPublisher(connection)

        self._connection = open_connection(self.params, setup, "search", retry_for)

    def workers(self) -> int:
        """How many workers consume this job's requests right now."""
        return self._channel.queue_declare(self.requests, passive=True).method.consumer_count

    def delete_queues(self) -> None:
        """Remove this job's queues from the broker (when the job is over for good)."""
        for name in (self.requests, self.replies, self.dead):
            self._channel.queue_delete(name)

    def close(self) -> None:
        if self.by_worker:
            logger.info("rabbitmq evaluator: %s; answers by worker: %s", dict(self.counts),
                        ", ".join(f"{worker} {n}" for worker, n in sorted(self.by_worker.items())))
            self.by_worker.clear()
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.close()
            except Exception:  # closing a connection the broker already dropped
                pass
        self._connection = None

    def __enter__(self) -> "RabbitMQEvaluator":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol

    def submit(self, archs: Sequence) -> None:
        self._pending.extend(self.to_str(arch) for arch in archs)

    def results(self) -> dict[str, float | None]:
        archs, self._pending = list(dict.fromkeys(self._pending)), []
        if not archs:
            return {}
        self._tasks: dict[str, Request] = {}
        for arch in archs:
            request = request_for(self.job, self.space_name, arch)
            self._tasks[request.task] = request
        self._answers: dict[str, tuple[Optional[float], Optional[str]]] = {}
        try:
            if self.workers() == 0:
                logger.warning("rabbitmq evaluator: no worker serves job %s yet; the requests wait in %s "
                               "(start python -m <space>.worker with this config)", self.job, self.requests)
        except RECOVERABLE_ERRORS:
            pass  # reconnected below
        publications = Counter()
        unsent = list(self._tasks)
        last_progress = last_log = time.monotonic()
        while len(self._answers) < len(self._tasks):
            try:
                if unsent:
                    unsent = self._publish(unsent, publications)
                    continue
                before = len(self._answers)
                self._connection.process_data_events(time_limit=1)
            except RECOVERABLE_ERRORS as error:
                logger.warning("rabbitmq evaluator: connection lost (%s); reconnecting", type(error).__name__)
                self.counts["reconnects"] += 1
                self._open(retry_for=self.cfg.reconnect_timeout)
                unsent = [t for t in (unsent or []) if t not in self._answers]
                continue
            now = time.monotonic()
            if len(self._answers) > before:
                last_progress = now
            elif now - last_progress > self.cfg.task_timeout:
                unsent = self._give_up_or_resend(publications)
                last_progress = now
            if now - last_log > LOG_EVERY:
                last_log = now
                logger.info("rabbitmq evaluator: %d/%d answered", len(self._answers), len(self._tasks))
        results = {}
        failed = []
        for task, request in self._tasks.items():
            score, error = self._answers[task]
            results[request.arch] = score
            if score is None:
                self.failures[request.arch] = error
                failed.append(f"{request.arch} ({error})")
        if failed:
            logger.warning("rabbitmq evaluator: %d candidate(s) failed: %s", len(failed), "; ".join(failed[:20]))
        return results

    def _publish(self, tasks: list[str], publications: Counter) -> list[str]:
        """Publish ``tasks`` (confirmed); return those the broker did not accept."""
        items = [(task, self.requests, self._tasks[task].encode(), properties("rlnas.request", task))
                 for task in tasks if task not in self._answers]
        rejected = self._publisher.publish(items)
        for task, *_ in items:
            if task not in rejected:
                publications[task] += 1
        self.counts["published"] += len(items) - len(rejected)
        if rejected:  # nacked or returned: declare the queues again and retry after a breath
            declare(self._channel, self.cfg, self.job)
            time.sleep(0.2)
        return rejected

    def _give_up_or_resend(self, publications: Counter) -> list[str]:
        unanswered = [t for t in self._tasks if t not in self._answers]
        resend = []
        for task in unanswered:
            if publications[task] >= self.cfg.max_publications:
                self._answers[task] = (None, f"no reply after {publications[task]} publications "
                                             f"(is a worker serving job {self.job} running?)")
            else:
                resend.append(task)
        logger.warning("rabbitmq evaluator: no reply for %g s; re-publishing %d unanswered task(s)",
                       self.cfg.task_timeout, len(resend))
        self.counts["republished"] += len(resend)
        return resend

    def _on_reply(self, channel, method, props, body: bytes) -> None:
        try:
            reply = parse_reply(body)
            if reply.job != self.job:
                raise ProtocolError(f"reply of job {reply.job} in the queue of job {self.job}")
        except ProtocolError as error:  # keep the evidence, never crash the search on a bad message
            self._publisher.publish([("", self.dead, body, pika.BasicProperties(
                content_type=props.content_type, delivery_mode=pika.DeliveryMode.Persistent,
                headers=dead_letter_headers(str(error), self.replies)))])
            logger.warning("rabbitmq evaluator: malformed reply dead-lettered: %s", error)
            return channel.basic_ack(method.delivery_tag)
        tasks = getattr(self, "_tasks", {})
        if reply.task not in tasks:
            self.counts["stale"] += 1
        elif reply.task in self._answers:
            self.counts["duplicates"] += 1
        else:
            self._answers[reply.task] = (reply.score, reply.error)
            self.counts["answered"] += 1
            self.by_worker[reply.worker] += 1
        channel.basic_ack(method.delivery_tag)
