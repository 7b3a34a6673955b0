"""The wire format of distributed evaluation: versioned JSON requests and replies, strictly validated.

A request names a candidate, nothing else: ``{"v", "kind": "request", "job", "task", "space",
"arch", "attempt"}``. ``job`` is a digest of what determines scores (space, score kind, the scorer's
fingerprint), so a worker serves only the requests its own config can answer; ``task`` is a digest
of job and canonical architecture string, the key replies are de-duplicated by. A reply carries
``status`` (``ok`` or ``failed``), the score or the error, the worker's identity, the attempts used
and the scoring time.

Messages are parsed with ``json`` only (never pickle) and checked field by field; anything else is a
``ProtocolError`` whose text is the reason recorded in the dead-letter queue. No field can name a
file, a module or code: a worker only ever turns ``arch`` into an architecture of its own space.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Optional

VERSION = 1
MAX_BODY = 64 * 1024  # bytes; a canonical architecture string is far shorter
MAX_ATTEMPTS = 100  # upper bound of a request's attempt counter (the configured limit is lower)
CONTENT_TYPE = "application/json"
_HEX = re.compile(r"^[0-9a-f]+$")
JOB_LEN, TASK_LEN = 16, 32


class ProtocolError(ValueError):
    """A message that is not a valid request or reply; the text says why."""


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def job_id(space: str, score: str, fingerprint: str) -> str:
    """The job of a search: equal exactly when the scores would be equal (same space, score and weights)."""
    return _digest(json.dumps({"space": space, "score": score, "scorer": fingerprint}, sort_keys=True), JOB_LEN)


def task_id(job: str, arch: str) -> str:
    return _digest(f"{job}\n{arch}", TASK_LEN)


@dataclass(frozen=True)
class Request:
    job: str
    task: str
    space: str
    arch: str
    attempt: int = 0  # failed or lost scoring attempts so far

    def encode(self) -> bytes:
        return _encode({"v": VERSION, "kind": "request", **asdict(self)})

    def retried(self) -> "Request":
        return Request(self.job, self.task, self.space, self.arch, self.attempt + 1)


@dataclass(frozen=True)
class Reply:
    job: str
    task: str
    arch: str
    status: str  # "ok" | "failed"
    score: Optional[float]
    error: Optional[str]
    attempts: int
    worker: str
    seconds: float

    def encode(self) -> bytes:
        return _encode({"v": VERSION, "kind": "reply", **asdict(self)})


def request_for(job: str, space: str, arch: str) -> Request:
    return Request(job=job, task=task_id(job, arch), space=space, arch=arch)


def _encode(document: dict) -> bytes:
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


def _load(body: bytes) -> dict:
    if not isinstance(body, (bytes, bytearray)):
        raise ProtocolError("body is not bytes")
    if len(body) > MAX_BODY:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the limit of {MAX_BODY}")
    if body[:1] == b"\x80":  # the opcode every pickle of protocol >= 2 starts with
        raise ProtocolError("pickle payload refused (messages are JSON)")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("not JSON (body is not UTF-8 text)") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"not JSON ({error.msg} at position {error.pos})") from None
    if not isinstance(document, dict):
        raise ProtocolError(f"not a JSON object but {type(document).__name__}")
    if document.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {document.get('v')!r} (expected {VERSION})")
    return document


def _reject_constant(name: str):
    raise ProtocolError(f"not JSON ({name} is not a JSON number)")


def _fields(document: dict, kind: str, types: dict) -> dict:
    if document.get("kind") != kind:
        raise ProtocolError(f"expected a {kind}, got kind {document.get('kind')!r}")
    expected = {"v", "kind", *types}
    if set(document) != expected:
        extra, missing = sorted(set(document) - expected), sorted(expected - set(document))
        raise ProtocolError("wrong schema: " + "; ".join(
            part for part in (f"unknown fields {extra}" if extra else "", f"missing fields {missing}" if missing else "") if part))
    values = {}
    for name, allowed in types.items():
        value = document[name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in _tuple(allowed)):
            raise ProtocolError(f"wrong schema: field {name!r} has type {type(value).__name__}")
        values[name] = value
    return values


def _tuple(allowed) -> tuple:
    return allowed if isinstance(allowed, tuple) else (allowed,)


def _check_hex(name: str, value: str, length: int) -> None:
    if len(value) != length or not _HEX.match(value):
        raise ProtocolError(f"wrong schema: {name} must be {length} hex digits")


def _check_text(name: str, value: str, limit: int = 4096) -> None:
    if not value or len(value) > limit or not value.isprintable():
        raise ProtocolError(f"wrong schema: {name} must be printable text of 1 to {limit} characters")


def parse_request(body: bytes) -> Request:
    values = _fields(_load(body), "request", {"job": str, "task": str, "space": str, "arch": str, "attempt": int})
    _check_hex("job", values["job"], JOB_LEN)
    _check_hex("task", values["task"], TASK_LEN)
    _check_text("space", values["space"], 64)
    _check_text("arch", values["arch"])
    if not 0 <= values["attempt"] <= MAX_ATTEMPTS:
        raise ProtocolError(f"wrong schema: attempt {values['attempt']} outside [0, {MAX_ATTEMPTS}]")
    if values["task"] != task_id(values["job"], values["arch"]):
        raise ProtocolError("task id does not match job and architecture")
    return Request(**values)


def parse_reply(body: bytes) -> Reply:
    number = (int, float)
    values = _fields(_load(body), "reply", {"job": str, "task": str, "arch": str, "status": str,
                                             "score": (int, float, type(None)), "error": (str, type(None)),
                                             "attempts": int, "worker": str, "seconds": number})
    _check_hex("job", values["job"], JOB_LEN)
    _check_hex("task", values["task"], TASK_LEN)
    if values["task"] != task_id(values["job"], values["arch"]):
        raise ProtocolError("task id does not match job and architecture")
    if values["status"] == "ok":
        if values["score"] is None or not math.isfinite(values["score"]) or values["error"] is not None:
            raise ProtocolError("wrong schema: an ok reply carries a finite score and no error")
    elif values["status"] == "failed":
        if values["score"] is not None or not values["error"]:
            raise ProtocolError("wrong schema: a failed reply carries an error and no score")
    else:
        raise ProtocolError(f"wrong schema: status {values['status']!r} is neither 'ok' nor 'failed'")
    values["score"] = None if values["score"] is None else float(values["score"])
    values["seconds"] = float(values["seconds"])
    return Reply(**values)
