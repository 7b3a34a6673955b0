"""Broker plumbing shared by the client evaluator and the workers: config, URL and TLS, connections,
queue layout, confirmed publishing and dead-lettering.

The broker address and credentials come only from ``search.amqp.url`` or ``$RLNAS_AMQP_URL``
(``amqp://user:password@host:5672/vhost``; ``amqps://`` for TLS, verified against the system CAs or
``ca_file``). Connection failures become one ``UserError`` line that names the broker without its
password. Queues of a job (all durable): ``<prefix>.<job>.requests``, ``.replies`` and ``.dead``.
"""
from __future__ import annotations

import logging
import os
import ssl
import time
from typing import Callable, Optional
from urllib.parse import quote, urlsplit

import pika
import pika.exceptions as pex

from ..errors import UserError
from .config import AMQPConfig
from .protocol import CONTENT_TYPE

logger = logging.getLogger("rlnas")
# pika logs each failed connection attempt with a traceback; failures are reported here, in one line.
logging.getLogger("pika").setLevel(logging.CRITICAL)
URL_VARIABLE = "RLNAS_AMQP_URL"

# Errors after which reconnecting may help (the broker went away or closed the connection).
# Errors after which starting over on a fresh connection helps: the broker went away, closed the
# connection or a channel, or did not take a publication (the unacknowledged request is redelivered
# and counted as an attempt, so a refusal that persists ends in the dead-letter queue).
RECOVERABLE_ERRORS = (pex.AMQPConnectionError, pex.ConnectionClosed, pex.StreamLostError, pex.ChannelClosedByBroker,
                      pex.ChannelWrongStateError, pex.ConnectionWrongStateError, pex.UnroutableError, pex.NackError,
                      ConnectionError)


def queue_names(cfg: AMQPConfig, job: str) -> tuple[str, str, str]:
    """(requests, replies, dead letters) of ``job``."""
    base = f"{cfg.queue_prefix}.{job}"
    return f"{base}.requests", f"{base}.replies", f"{base}.dead"


def resolve_url(cfg: AMQPConfig) -> str:
    url = cfg.url or os.environ.get(URL_VARIABLE, "")
    if not url:
        raise UserError(f"no broker configured: set search.amqp.url or ${URL_VARIABLE} "
                        "(e.g. amqp://user:password@host:5672/%2F)")
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path or '/'}"


def connection_parameters(cfg: AMQPConfig, name: str = "rlnas") -> pika.URLParameters:
    url = resolve_url(cfg)
    scheme = urlsplit(url).scheme
    if scheme not in ("amqp", "amqps"):
        raise UserError(f"broker URL {redact(url)}: scheme must be amqp or amqps")
    try:
        params = pika.URLParameters(url)
    except Exception as error:  # pika raises assorted types for malformed URLs
        raise UserError(f"broker URL {redact(url)} is malformed ({error})") from None
    if scheme == "amqps":
        if cfg.ca_file is not None and not os.path.isfile(cfg.ca_file):
            raise UserError(f"search.amqp.ca_file: file not found: {cfg.ca_file}")
        context = ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.cert_file:
            try:
                context.load_cert_chain(cfg.cert_file, cfg.key_file)
            except (OSError, ssl.SSLError) as error:
                raise UserError(f"search.amqp.cert_file: cannot load the client certificate ({error})") from None
        params.ssl_options = pika.SSLOptions(context, server_hostname=params.host)
    elif cfg.ca_file or cfg.cert_file:
        raise UserError("search.amqp.ca_file/cert_file need an amqps:// URL")
    params.heartbeat = cfg.heartbeat
    params.socket_timeout = cfg.connect_timeout
    params.stack_timeout = cfg.connect_timeout * 2
    params.blocked_connection_timeout = max(cfg.task_timeout, 60.0)
    params.connection_attempts = 1
    params.client_properties = {"connection_name": f"{name} pid {os.getpid()}"}
    return params


def describe(params: pika.URLParameters) -> str:
    scheme = "amqps" if params.ssl_options else "amqp"
    return f"{scheme}://{params.credentials.username}@{params.host}:{params.port}/{quote(params.virtual_host, safe='')}"


def connect(params: pika.URLParameters) -> pika.BlockingConnection:
    """Open a connection; refused credentials or an unreachable broker are a one-line UserError."""
    try:
        return pika.BlockingConnection(params)
    except (pex.ProbableAuthenticationError, pex.AuthenticationError):
        raise UserError(f"the RabbitMQ broker at {describe(params)} refused the credentials "
                        f"(check the user and password in search.amqp.url or ${URL_VARIABLE})") from None
    except pex.ProbableAccessDeniedError:
        raise UserError(f"the RabbitMQ broker at {describe(params)} refused the credentials or access to virtual "
                        f"host {params.virtual_host!r} (check the URL and the user's permissions)") from None
    except (pex.AMQPConnectionError, ssl.SSLError, OSError) as error:
        reason = _reason(error)
        raise UserError(f"cannot connect to the RabbitMQ broker at {describe(params)}{reason}") from None


def _reason(error: BaseException) -> str:
    """The innermost useful text of pika's nested connection errors."""
    while True:
        inner = getattr(error, "exception", None)
        if not isinstance(inner, BaseException):
            inner = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        if inner is None:
            break
        error = inner
    text = str(error).strip() or type(error).__name__
    return f" ({text.splitlines()[0][:200]})"


def open_connection(params: pika.URLParameters, setup: Callable[[pika.BlockingConnection], None],
                    what: str, retry_for: float = 0.0) -> pika.BlockingConnection:
    """Connect and ``setup`` the connection (channels, queues, consumers).

    With ``retry_for`` > 0 (reconnecting after the broker dropped us or restarted), failures are
    retried with backoff for that many seconds; refused credentials never are.
    """
    deadline, delay = time.monotonic() + retry_for, 0.2
    while True:
        connection = None
        try:
            connection = connect(params)
            setup(connection)
            if retry_for:
                logger.info("%s: reconnected to %s", what, describe(params))
            return connection
        except (UserError, *RECOVERABLE_ERRORS) as error:
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except Exception:  # the broker is going away anyway
                    pass
            text = str(error) if isinstance(error, UserError) else f"{type(error).__name__} {error}".strip()
            if not retry_for:
                if isinstance(error, UserError):
                    raise
                raise UserError(f"{what}: the broker at {describe(params)} closed the connection ({text})") from None
            if "refused the credentials" in text or time.monotonic() + delay > deadline:
                raise UserError(f"{what}: lost the broker and could not reconnect within {retry_for:g} s: {text}") from None
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def declare(channel, cfg: AMQPConfig, job: str) -> tuple[str, str, str]:
    """Declare the job's three durable queues (idempotent); return their names."""
    names = queue_names(cfg, job)
    try:
        for name in names:
            channel.queue_declare(name, durable=True)
    except pex.ChannelClosedByBroker as error:
        raise UserError(f"the broker refused to declare queue {name}: {error.reply_text}") from None
    return names


def properties(kind: str, message_id: str = "", headers: Optional[dict] = None) -> pika.BasicProperties:
    return pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=pika.DeliveryMode.Persistent,
                                type=kind, message_id=message_id or None, headers=headers)


def publish_confirmed(channel, queue: str, body: bytes, props: pika.BasicProperties,
                      declare_queue: Callable[[str], None]) -> None:
    """Publish persistently and wait for the broker's confirm (channel in confirm mode).

    A message the broker returns as unroutable (its queue was deleted) is published again after
    declaring the queue.
    """
    try:
        channel.basic_publish("", queue, body, props, mandatory=True)
    except pex.UnroutableError:
        declare_queue(queue)
        channel.basic_publish("", queue, body, props, mandatory=True)


def dead_letter_headers(reason: str, source: str) -> dict:
    return {"x-rlnas-reason": reason[:1000], "x-rlnas-source-queue": source, "x-rlnas-time": int(time.time())}


class PipelinedPublisher:
    """Publisher confirms without a round trip per message, for the client's bursts of requests.

    ``BlockingChannel.basic_publish`` in confirm mode waits for each confirm (one disk sync each, a
    few hundred messages per second); this publishes a whole batch on the blocking connection's
    underlying asynchronous channel and then waits until the broker has confirmed every message.
    """

    def __init__(self, connection: pika.BlockingConnection):
        self.connection = connection
        self.channel = connection.channel()
        self._impl = self.channel._impl  # pika's asynchronous channel under the blocking wrapper
        self._outstanding: dict[int, str] = {}  # delivery tag -> key
        self._failed: list[str] = []
        self._selected = False
        self._impl.confirm_delivery(self._on_confirm, callback=self._on_select)
        self._impl.add_on_return_callback(self._on_return)
        self._seq = 0
        while not self._selected:
            if not self._impl.is_open:
                raise pex.ChannelWrongStateError("the publishing channel was closed")
            connection.process_data_events(time_limit=1)

    def _wake(self) -> None:
        # Confirms reach the asynchronous channel directly; a no-op callback ends the blocking wait.
        self.connection.add_callback_threadsafe(lambda: None)

    def _on_select(self, _frame) -> None:
        self._selected = True
        self._wake()

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tags = [t for t in self._outstanding if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        nacked = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            key = self._outstanding.pop(tag, None)
            if nacked and key is not None:
                self._failed.append(key)
        if not self._outstanding:
            self._wake()

    def _on_return(self, _channel, _method, props, _body) -> None:
        self._failed.append(props.message_id)

    def publish(self, items: list[tuple[str, str, bytes, pika.BasicProperties]]) -> list[str]:
        """Publish ``(key, queue, body, props)`` items; return the keys the broker did not accept."""
        self._failed = []
        for key, queue, body, props in items:
            self._seq += 1
            self._outstanding[self._seq] = key
            self._impl.basic_publish("", queue, body, props, mandatory=True)
        while self._outstanding:
            if not self._impl.is_open:  # closed by the broker: these confirms will never come
                raise pex.ChannelWrongStateError("the publishing channel was closed")
            self.connection.process_data_events(time_limit=1)
        # Returned messages are also confirmed; drop duplicates but keep order.
        return list(dict.fromkeys(self._failed))
