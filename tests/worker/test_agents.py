"""The classifier agent end to end: a real broker, a real trained model, a worker subprocess.

One worker serves the whole module (its start-up costs seconds); each test
uses its own ticket ids, so tests do not depend on each other's data.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import validate_json_schema
from stream.devtools.broker import free_port
from stream.config import Settings
from stream.devtools.replay import Rows, load_rows, replay
from stream.kafka.topics import ensure_topics
from tests.fixtures.kafka import TopicSet
from tests.fixtures.worker import worker_env
from tests.fixtures.kafka_io import WorkerProcess, http, json_values, produce, read_topic

pytestmark = pytest.mark.slow

DATA = "data/it-service-tickets/tickets.csv.gz"
MAX_PAYLOAD = 64 * 1024  # above every shipped ticket (the longest is ~7 KB)
SECRET = "s3cr3t-never-shown"


@pytest.fixture(scope="module")
def worker(kafka_bootstrap, trained_registry, e5_embedders_root, tmp_path_factory):
    registry, version = trained_registry
    suffix = uuid.uuid4().hex[:10]
    topics = TopicSet(raw=f"raw-{suffix}", classified=f"classified-{suffix}", feedback=f"feedback-{suffix}",
                      dlq=f"dlq-{suffix}", partitions=4)
    asyncio.run(ensure_topics(topics.kafka_settings(kafka_bootstrap)))
    env = worker_env(kafka_bootstrap, topics, registry, f"agents-{suffix}",
                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root),
                     TICKETS_MAX_PAYLOAD_BYTES=str(MAX_PAYLOAD),
                     TICKETS_KAFKA_SASL_PASSWORD=SECRET)
    process = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log", free_port()).start()
    try:
        process.wait_ready(90)
        yield process, topics, version
    finally:
        process.stop()


def _short_rows(n: int, max_chars: int = 300) -> Rows:
    """The first ``n`` dataset tickets of at most ``max_chars`` (three in four are): keeps the test quick."""
    rows = load_rows(DATA, text_col="Document", limit=3 * n)
    keep = [i for i, text in enumerate(rows.texts) if len(text) <= max_chars][:n]
    return Rows([rows.indices[i] for i in keep], [rows.texts[i] for i in keep], [None] * len(keep))


def _ids_with_prefix(prefix):
    return lambda records: {r["ticket_id"] for r in records if r["ticket_id"].startswith(prefix)}


def _read_json(bootstrap, topic, done, timeout_s=120):
    records = asyncio.run(read_topic(bootstrap, topic, done, timeout_s, parse=lambda r: json.loads(r.value)))
    return json_values(records), records


def test_2000_tickets_in_2000_distinct_ids_out(worker, kafka_bootstrap):
    process, topics, version = worker
    prefix = f"bulk{uuid.uuid4().hex[:6]}"
    settings = Settings.from_env({"TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap, **topics.env()})
    rows = _short_rows(2000)
    stats = asyncio.run(replay(settings, rows, rate=0, id_prefix=prefix, progress=False))
    assert stats.sent == 2000 and stats.failed == 0

    ids = _ids_with_prefix(prefix)
    events, _ = _read_json(kafka_bootstrap, topics.classified, lambda recs: len(ids(recs)) >= 2000, 300)
    mine = [e for e in events if e["ticket_id"].startswith(prefix)]
    assert ids(mine) == {f"{prefix}-{i:07d}" for i in rows.indices}
    for event in mine:
        validate_json_schema("classified_event", event)
    assert {e["model_version"] for e in mine} == {version}
    # A redelivered ticket would carry the same event_id: ids are per (ticket, model, text).
    assert len({e["event_id"] for e in mine}) == len(ids(mine))
    assert {e["source"] for e in mine} == {"chat", "email"}


def _ticket(ticket_id, text, **extra):
    return {"schema_version": "1", "ticket_id": ticket_id, "source": "chat",
            "messages": [{"role": "requester", "text": text}], "created_at": "2026-11-24T09:00:00Z", **extra}


def test_malformed_events_are_dead_lettered_and_their_neighbours_classified(worker, kafka_bootstrap):
    process, topics, _ = worker
    p = f"mix{uuid.uuid4().hex[:6]}"
    good = lambda n: json.dumps(_ticket(f"{p}-good-{n}", "my laptop screen is broken, need a replacement")).encode()
    bad_schema = _ticket(f"{p}-schema", "printer jam")
    bad_schema["messages"][0]["role"] = "customer"
    records = [
        (b"g1", good(1)),
        (f"{p}-json".encode(), b'{"ticket_id": "x", "source": '),
        (f"{p}-utf8".encode(), b'{"ticket_id": "\xff\xfe"}'),
        (f"{p}-schema".encode(), json.dumps(bad_schema).encode()),
        (f"{p}-missing".encode(), json.dumps({k: v for k, v in _ticket(f"{p}-m", "x").items() if k != "messages"}).encode()),
        (f"{p}-array".encode(), b"[1, 2, 3]"),
        (f"{p}-big".encode(), json.dumps(_ticket(f"{p}-big", "word " * (MAX_PAYLOAD // 4))).encode()),
        (f"{p}-empty".encode(), json.dumps(_ticket(f"{p}-empty", "   \n\t ")).encode()),
        (f"{p}-bot".encode(), json.dumps({**_ticket(f"{p}-bot", "x"),
                                          "messages": [{"role": "system", "text": "chat transferred"}]}).encode()),
        (b"g2", good(2)),
    ]
    expected = {
        f"{p}-json": "invalid_json", f"{p}-utf8": "invalid_json", f"{p}-schema": "schema_violation",
        f"{p}-missing": "schema_violation", f"{p}-array": "schema_violation", f"{p}-big": "payload_too_large",
        f"{p}-empty": "empty_text", f"{p}-bot": "empty_text",
    }
    asyncio.run(produce(kafka_bootstrap, topics.raw, records))

    dead_records = asyncio.run(read_topic(
        kafka_bootstrap, topics.dlq,
        lambda recs: len({r.key for r in recs if r.key and r.key.decode(errors="replace").startswith(p)}) >= len(expected)))
    dead = {r.key.decode(errors="replace"): json.loads(r.value) for r in dead_records
            if r.key and r.key.decode(errors="replace").startswith(p)}
    assert {k: v["error_code"] for k, v in dead.items()} == expected
    for key, letter in dead.items():
        validate_json_schema("dead_letter_event", letter)
        assert letter["topic"] == topics.raw and letter["component"] == "worker"
        assert letter["offset"] >= 0 and 0 <= letter["partition"] < topics.partitions
    assert "messages[0].role" in dead[f"{p}-schema"]["reason"]
    assert "messages" in dead[f"{p}-missing"]["reason"]
    assert dead[f"{p}-json"]["payload"] == '{"ticket_id": "x", "source": '
    assert "\ufffd" in dead[f"{p}-utf8"]["payload"]
    # Over the payload limit, yet kept whole: dead letters are bounded by TICKETS_DLQ_MAX_BYTES (512 KiB) instead.
    big = dead[f"{p}-big"]
    assert big["payload_bytes"] > MAX_PAYLOAD and not big["payload_truncated"]
    assert len(big["payload"].encode()) == big["payload_bytes"]

    classified, _ = _read_json(kafka_bootstrap, topics.classified,
                               lambda recs: {f"{p}-good-1", f"{p}-good-2"} <= {r["ticket_id"] for r in recs})
    assert {f"{p}-good-1", f"{p}-good-2"} <= {e["ticket_id"] for e in classified}
    assert not any(e["ticket_id"].startswith(p) and "good" not in e["ticket_id"] for e in classified)


def test_classify_endpoint_gives_the_stream_s_answer(worker, kafka_bootstrap):
    process, topics, _ = worker
    p = f"api{uuid.uuid4().hex[:6]}"
    rows = load_rows(DATA, text_col="Document", skip=5000, limit=40)
    tickets = [_ticket(f"{p}-{i}", text, source="email" if i % 2 else "chat") for i, text in enumerate(rows.texts)]
    tickets.append({**_ticket(f"{p}-thread", "x"), "subject": "shared drive full", "messages": [
        {"role": "requester", "text": "the project share \\\\fs01\\[MASKED] is full"},
        {"role": "agent", "text": "which project? please confirm your e-mail <EMAIL>"},
        {"role": "requester", "text": "internal project apollo, we need 200 gb more"}]})
    asyncio.run(produce(kafka_bootstrap, topics.raw,
                        [(t["ticket_id"].encode(), json.dumps(t).encode()) for t in tickets]))
    want = {t["ticket_id"] for t in tickets}
    events, _ = _read_json(kafka_bootstrap, topics.classified, lambda recs: want <= {r["ticket_id"] for r in recs})
    from_stream = {e["ticket_id"]: e for e in events if e["ticket_id"] in want}

    status, body = http("POST", f"{process.url}/classify", json.dumps(tickets).encode())
    assert status == 200, body
    from_api = {e["ticket_id"]: e for e in json.loads(body)}
    assert from_api.keys() == from_stream.keys()
    # The API batches these tickets differently from the stream's micro-batches. The default int8-token
    # embedder scales each token's activations by its own range, so at the default budget (256 tokens
    # per onnxruntime call) batching cannot change an answer, and both must agree exactly.
    for ticket_id, event in from_api.items():
        validate_json_schema("classified_event", event)
        streamed = from_stream[ticket_id]
        assert event["event_id"] == streamed["event_id"], ticket_id
        assert event["category"] == streamed["category"], ticket_id
        assert event["confidence"] == pytest.approx(streamed["confidence"], abs=1e-6), ticket_id
        assert [k["category"] for k in event["top_k"]] == [k["category"] for k in streamed["top_k"]], ticket_id
        assert [k["probability"] for k in event["top_k"]] == pytest.approx(
            [k["probability"] for k in streamed["top_k"]], abs=1e-6), ticket_id
    assert "[masked]" in from_api[f"{p}-thread"]["excerpt"].lower()  # masked tokens stay masked
    # The evidence travels with the answer, the same on both paths: the 3 nearest tickets, or none for a
    # ticket the lexical shortcut answered without embedding it (the same tickets on both paths).
    assert all(len(e["evidence"]["neighbours"]) in (0, 3) for e in [*from_api.values(), *from_stream.values()])
    assert any(e["evidence"]["neighbours"] for e in from_api.values())
    assert sum(bool(e["evidence"]["terms"]) for e in from_api.values()) >= 0.75 * len(from_api)
    same = sum([n["ticket_id"] for n in e["evidence"]["neighbours"]]
               == [n["ticket_id"] for n in from_stream[t]["evidence"]["neighbours"]] for t, e in from_api.items())
    assert same == len(from_api), f"only {same} of {len(from_api)} neighbour lists agree"

    status, body = http("POST", f"{process.url}/classify", json.dumps({"text": rows.texts[0]}).encode())
    assert status == 200
    single, streamed = json.loads(body), from_stream[f"{p}-0"]
    assert single["confidence"] == pytest.approx(streamed["confidence"], abs=0.02)
    if streamed["top_k"][0]["probability"] - streamed["top_k"][1]["probability"] > 0.04:
        assert single["category"] == streamed["category"]


@pytest.mark.parametrize(("body", "status", "error", "names"), [
    (b"{not json", 400, "invalid_json", "JSON"),
    (b'{"schema_version": "1", "ticket_id": "a", "source": "fax", "messages": [{"role": "requester", '
     b'"text": "x"}], "created_at": "2026-11-24T09:00:00Z"}', 422, "schema_violation", "source"),
    (b'[{"text": "vpn down"}, {"ticket_id": "b"}]', 422, "schema_violation", "[1]"),
    (b'{"text": "   "}', 422, "empty_text", "no text"),
    (b"[]", 422, "schema_violation", "empty list"),
    (b'"just a string"', 422, "schema_violation", "object"),
])
def test_classify_endpoint_rejects_bad_requests_with_a_json_error(worker, body, status, error, names):
    process, _, _ = worker
    got_status, got_body = http("POST", f"{process.url}/classify", body)
    assert got_status == status, got_body
    document = json.loads(got_body)
    assert document["error"] == error and names in document["detail"]


def test_readyz_metrics_and_logs(worker):
    process, topics, version = worker
    status, ready = process.readyz()
    assert status == 200 and ready["ready"] and ready["model_version"] == version
    assert sorted(ready["assigned_partitions"]) == list(range(topics.partitions))
    assert SECRET not in json.dumps(ready) and ready["settings"]["kafka"]["sasl_password"] == "***"
    assert ready["settings"]["embed_max_tokens"] == 128  # a count, not a secret
    assert http("GET", f"{process.url}/healthz") == (200, b'{"status":"ok"}')

    status, body = http("GET", f"{process.url}/metrics")
    assert status == 200
    samples = [s for family in text_string_to_metric_families(body.decode()) for s in family.samples]
    value = lambda name, **labels: sum(s.value for s in samples
                                       if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))
    consumed = value("tickets_consumed_total")
    assert consumed > 0
    # Nothing is silently dropped: every consumed event was classified or dead-lettered.
    assert consumed == value("tickets_classified_total") + value("tickets_dead_lettered_total")
    assert value("tickets_model_info", version=version) == 1 and value("tickets_model_ready") == 1
    assert value("tickets_batch_size_count") > 0 and value("tickets_end_to_end_seconds_count") > 0
    lag = [s for s in samples if s.name == "tickets_consumer_lag"]
    assert {s.labels["partition"] for s in lag} == {str(p) for p in range(topics.partitions)}
    # Everything produced so far has been processed, so the lag settles at zero.
    deadline = time.monotonic() + 15
    while any(s.value for s in lag) and time.monotonic() < deadline:
        time.sleep(0.5)
        body = http("GET", f"{process.url}/metrics")[1].decode()
        lag = [s for f in text_string_to_metric_families(body) for s in f.samples if s.name == "tickets_consumer_lag"]
    assert [s.value for s in lag] == [0.0] * topics.partitions

    log_lines = [json.loads(line) for line in process.log_path.read_text().splitlines() if line.startswith("{")]
    batches = [line for line in log_lines if line["message"] == "batch done"]
    assert batches and all({"consumed", "classified", "dead_lettered", "inference_ms"} <= b.keys() for b in batches)
    log_text = process.log_path.read_text()
    assert SECRET not in log_text
    assert "laptop screen is broken" not in log_text  # ticket text never reaches the logs
