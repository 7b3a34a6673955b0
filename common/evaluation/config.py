"""The ``search.amqp`` config section (kept free of pika, so configs load without a broker client)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass
class AMQPConfig:
    url: Optional[str] = None  # None: $RLNAS_AMQP_URL
    ca_file: Optional[str] = None  # amqps: CA bundle that signed the broker's certificate (None: system CAs)
    cert_file: Optional[str] = None  # amqps: client certificate, for brokers that require one
    key_file: Optional[str] = None
    heartbeat: int = 30  # seconds; a silent peer is declared dead after about twice this
    connect_timeout: float = 10.0  # seconds per connection attempt
    reconnect_timeout: float = 300.0  # keep trying to reconnect this long after losing the broker
    task_timeout: float = 600.0  # client: re-publish unanswered tasks when no reply came for this long
    max_publications: int = 3  # client: a task published this often without a reply is reported failed
    max_attempts: int = 3  # worker: scoring attempts (errors or lost workers) before a task fails
    queue_prefix: str = "rlnas"

    def __post_init__(self):
        if min(self.heartbeat, self.max_publications, self.max_attempts) < 1:
            raise ValueError("heartbeat, max_publications and max_attempts must be positive")
        if self.max_attempts > 100:
            raise ValueError("max_attempts must be at most 100")
        if min(self.connect_timeout, self.reconnect_timeout, self.task_timeout) <= 0:
            raise ValueError("connect_timeout, reconnect_timeout and task_timeout must be positive")
        if not _PREFIX.match(self.queue_prefix):
            raise ValueError(f"queue_prefix must match {_PREFIX.pattern}, got {self.queue_prefix!r}")
