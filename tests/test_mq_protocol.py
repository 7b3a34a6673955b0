"""Distributed evaluation without a broker: the wire format, its validation, broker URLs and TLS."""
import json
import ssl

import numpy as np
import pytest
import torch

from common.angle import AngleScorer
from common.config import load_config
from common.errors import UserError
from common.evaluation import LocalEvaluator, build_evaluator
from common.evaluation.amqp import connection_parameters, redact, resolve_url
from common.evaluation.config import AMQPConfig
from common.evaluation.protocol import (MAX_BODY, ProtocolError, Reply, job_id, parse_reply, parse_request,
                                        request_for, task_id)
from common.search import SearchConfig
from nas_bench_201.angle import Layout, atoms, counts
from nas_bench_201.config import NB201Config
from nas_bench_201.space import NASBench201Space, benchmark_archs
from nas_bench_201.supernet import SupernetConfig, build_supernet

JOB = job_id("nas_bench_201", "angle", "0123456789abcdef")
ARCH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
# pickle.dumps("request", protocol=4), written out so that no test imports pickle
PICKLE = b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07request\x94."


def request_doc(**changes) -> dict:
    doc = json.loads(request_for(JOB, "nas_bench_201", ARCH).encode())
    doc.update(changes)
    return doc


def encode(doc) -> bytes:
    return json.dumps(doc).encode()


def test_job_id_depends_on_every_part_and_nothing_else():
    assert job_id("nas_bench_201", "angle", "abc") == job_id("nas_bench_201", "angle", "abc")
    variants = {job_id("nas_bench_201", "angle", "abc"), job_id("darts", "angle", "abc"),
                job_id("nas_bench_201", "val_acc", "abc"), job_id("nas_bench_201", "angle", "abd")}
    assert len(variants) == 4 and all(len(j) == 16 for j in variants)
    assert task_id(JOB, ARCH) != task_id(JOB, ARCH.replace("none~2", "none~1"))


def test_request_and_reply_round_trip():
    request = request_for(JOB, "nas_bench_201", ARCH)
    assert parse_request(request.encode()) == request
    assert parse_request(request.retried().encode()).attempt == 1
    reply = Reply(job=JOB, task=request.task, arch=ARCH, status="ok", score=1.25, error=None, attempts=1,
                  worker="host:1", seconds=0.5)
    assert parse_reply(reply.encode()) == reply
    failed = Reply(job=JOB, task=request.task, arch=ARCH, status="failed", score=None, error="boom", attempts=3,
                   worker="host:1", seconds=0.0)
    assert parse_reply(failed.encode()) == failed


@pytest.mark.parametrize("body, reason", [
    (PICKLE, "pickle payload refused"),
    (b"\xff\xfe not utf-8", "not JSON"),
    (b"{'arch': 1}", "not JSON"),
    (b'{"v": NaN}', "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (encode(request_doc(v=2)), "unsupported protocol version 2"),
    (encode(request_doc(kind="reply")), "expected a request"),
    (encode({**request_doc(), "module": "os"}), "unknown fields ['module']"),
    (encode({k: v for k, v in request_doc().items() if k != "arch"}), "missing fields ['arch']"),
    (encode(request_doc(attempt=True)), "field 'attempt' has type bool"),
    (encode(request_doc(attempt="0")), "field 'attempt' has type str"),
    (encode(request_doc(attempt=101)), "attempt 101 outside"),
    (encode(request_doc(job="../../etc/passwd")), "job must be 16 hex digits"),
    (encode(request_doc(arch=ARCH.replace("none~2", "none~1"))), "task id does not match"),
    (encode(request_doc(arch="")), "arch must be printable"),
    (b" " * (MAX_BODY + 1), "exceeds the limit"),
])
def test_malformed_requests_are_refused_with_a_reason(body, reason):
    with pytest.raises(ProtocolError, match=None) as info:
        parse_request(body)
    assert reason in str(info.value)


def test_replies_must_be_consistent():
    task = task_id(JOB, ARCH)
    base = {"v": 1, "kind": "reply", "job": JOB, "task": task, "arch": ARCH, "status": "ok", "score": 1.0,
            "error": None, "attempts": 1, "worker": "w", "seconds": 0.1}
    assert parse_reply(encode(base)).score == 1.0
    for changes, reason in [({"error": "x"}, "an ok reply"), ({"score": None}, "an ok reply"),
                            ({"status": "failed"}, "a failed reply"), ({"status": "maybe"}, "neither"),
                            ({"score": "1.0"}, "field 'score'")]:
        with pytest.raises(ProtocolError, match=reason):
            parse_reply(encode({**base, **changes}))
    with pytest.raises(ProtocolError, match="expected a reply"):
        parse_reply(request_for(JOB, "nas_bench_201", ARCH).encode())


def test_broker_url_comes_from_config_or_environment(monkeypatch):
    monkeypatch.delenv("RLNAS_AMQP_URL", raising=False)
    with pytest.raises(UserError, match="RLNAS_AMQP_URL"):
        resolve_url(AMQPConfig())
    monkeypatch.setenv("RLNAS_AMQP_URL", "amqp://alice:s3cret@broker.example:5673/lab")
    params = connection_parameters(AMQPConfig(heartbeat=7))
    assert (params.host, params.port, params.virtual_host, params.heartbeat) == ("broker.example", 5673, "lab", 7)
    assert params.credentials.username == "alice" and params.ssl_options is None
    assert connection_parameters(AMQPConfig(url="amqp://bob:pw@other:5672/%2F")).host == "other"  # config first
    assert "s3cret" not in redact("amqp://alice:s3cret@broker.example:5673/lab")
    with pytest.raises(UserError, match="scheme must be amqp or amqps"):
        connection_parameters(AMQPConfig(url="http://broker.example/"))


def test_amqps_verifies_the_broker_certificate(tmp_path):
    params = connection_parameters(AMQPConfig(url="amqps://alice:pw@broker.example/%2F"))
    assert params.port == 5671 and params.ssl_options.server_hostname == "broker.example"
    context = params.ssl_options.context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(UserError, match="ca_file: file not found"):
        connection_parameters(AMQPConfig(url="amqps://a:b@h/%2F", ca_file=str(tmp_path / "missing.pem")))
    with pytest.raises(UserError, match="need an amqps:// URL"):
        connection_parameters(AMQPConfig(url="amqp://a:b@h/%2F", ca_file=str(tmp_path / "ca.pem")))


def test_search_config_selects_the_evaluator(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search: {evaluator: rabbitmq, amqp: {queue_prefix: 'bad prefix'}}\n")
    with pytest.raises(UserError, match="queue_prefix"):
        load_config(path, NB201Config)
    path.write_text("search: {evaluator: sqs}\n")
    with pytest.raises(UserError, match="search.evaluator"):
        load_config(path, NB201Config)
    path.write_text("search: {evaluator: rabbitmq, amqp: {max_attempts: 5, task_timeout: 30}}\n")
    cfg = load_config(path, NB201Config)
    assert cfg.search.amqp.max_attempts == 5 and cfg.search.amqp.task_timeout == 30.0
    local = build_evaluator(SearchConfig(), NASBench201Space(), lambda archs: np.zeros(len(archs)), "fp")
    assert isinstance(local, LocalEvaluator)


def test_an_angle_does_not_depend_on_the_batch_that_scores_it():
    """What makes distributed (one candidate per message) and local (whole batches) results identical."""
    torch.manual_seed(0)
    state0 = build_supernet(SupernetConfig(channels=8, cells_per_stage=1), 10).state_dict()
    generator = torch.Generator().manual_seed(1)
    state_t = {k: v + 0.3 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
               for k, v in state0.items()}
    scorer = AngleScorer(atoms(Layout(8, 1)), state0, state_t, counts)
    archs = benchmark_archs()
    whole = scorer(archs)
    singles = np.array([scorer(archs[i:i + 1])[0] for i in range(0, len(archs), 7)])
    assert np.array_equal(whole[::7], singles)  # bit for bit
    assert np.array_equal(whole[100:1100], scorer(archs[100:1100]))
