"""Poison pills against a real worker and broker: hostile records are dead-lettered, the worker stays up.

One batch of the issue's hostile records (plus a hypothesis-drawn sample of
arbitrary ones) is followed, on the same partition, by good tickets: each
hostile record must be dead-lettered with a reason, every good ticket behind
them classified, and the worker must still be running and answering.
"""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import validate_json_schema
from stream.kafka.dlq import DEFAULT_MAX_DEAD_LETTER_BYTES
from stream.exceptions import BadTicket
from stream.worker.decode import decode_ticket
from tests.fixtures.worker import worker_env
from tests.fixtures.hostile_tickets import cases, encode, raw_records, sample, ticket
from tests.fixtures.kafka_io import http, produce, read_topic

pytestmark = pytest.mark.slow

MAX_PAYLOAD = 256 * 1024  # the default: case 2's 200 KB sits under it, as in the issue
EXPECTED = {"surrogate_subject": ("schema_violation", "subject"), "control_bytes": ("invalid_json", "JSON"),
            "year_one": ("schema_violation", "created_at"), "deep_nesting": ("invalid_json", "nested too deeply"),
            "deep_object": ("invalid_json", "nested too deeply"), "utf16": ("invalid_json", "UTF-8"),
            "utf8_bom": ("invalid_json", "BOM"), "comments-260k": ("schema_violation", "messages[0].text")}


def _ticket_id(raw: bytes) -> str | None:
    """The ticket id a record would be classified under, or None when the worker must dead-letter it."""
    try:
        return decode_ticket(raw, MAX_PAYLOAD).ticket_id
    except BadTicket:
        return None


def _metric(body: bytes, name: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(body.decode())
               for s in family.samples if s.name == name)


def test_hostile_records_are_dead_lettered_and_the_tickets_behind_them_classified(
        kafka_bootstrap, kafka_topics, kafka_group_id, trained_registry, e5_embedders_root, start_worker):
    registry, _ = trained_registry
    topics = kafka_topics(partitions=1)  # one partition: the good tickets really are behind the hostile ones
    p = f"pp{uuid.uuid4().hex[:6]}"
    hostile = {f"{p}-{name}": raw for name, raw in cases(p).items()}
    drawn = {f"{p}-drawn-{i}": raw for i, raw in enumerate(sample(raw_records, 20))}
    # case 4: HTML-looking text made cleaning quadratic (minutes, liveness lost). The 260 KB
    # message is now over the 100,000-character field limit (dead-lettered); the longest legal ones
    # must be classified like any ticket.
    hostile[f"{p}-comments-260k"] = encode(ticket(f"{p}-comments-260k", "<!--" * 65_000))
    slow = {f"{p}-comments": encode(ticket(f"{p}-comments", "<!--" * 25_000)),
            f"{p}-scripts": encode(ticket(f"{p}-scripts", "<script" * 14_285))}
    assert all(len(raw) < MAX_PAYLOAD for raw in [*slow.values(), hostile[f"{p}-comments-260k"]])
    good = {f"{p}-good-{i}": encode(ticket(f"{p}-good-{i}", text))
            for i, text in enumerate(["vpn keeps disconnecting", "need access to the finance share",
                                      "printer on floor 3 is jammed", "laptop battery swollen"])}
    records = [(k.encode(), v) for k, v in [*hostile.items(), *slow.items(), *drawn.items(), *good.items()]]
    asyncio.run(produce(kafka_bootstrap, topics.raw, records))

    worker = start_worker(worker_env(kafka_bootstrap, topics, registry, kafka_group_id("poison"),
                                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root)))
    worker.wait_ready(90)

    drawn_ids = {key: _ticket_id(raw) for key, raw in drawn.items()}
    want_dead = set(hostile) | {key for key, ticket_id in drawn_ids.items() if ticket_id is None}
    want_classified = set(good)

    def dead_keys(recs):
        return {r.key.decode(errors="replace") for r in recs if r.key}

    def settled_dlq(recs):
        return want_dead <= dead_keys(recs)

    def settled_classified(recs):
        done = {json.loads(r.value)["ticket_id"] for r in recs} | dead_keys(dead_records)
        return want_classified <= done and set(slow) <= done

    dead_records = asyncio.run(read_topic(kafka_bootstrap, topics.dlq, settled_dlq, 120))
    classified_records = asyncio.run(read_topic(
        kafka_bootstrap, topics.classified,
        settled_classified, 60))
    dead = {r.key.decode(errors="replace"): (r.value, json.loads(r.value)) for r in dead_records if r.key}
    classified = {json.loads(r.value)["ticket_id"] for r in classified_records}

    assert want_dead <= dead.keys(), f"not dead-lettered: {sorted(want_dead - dead.keys())}\n{worker.log_tail()}"
    assert want_classified <= classified, f"not classified: {sorted(want_classified - classified)}"
    for key, (value, letter) in dead.items():
        assert len(value) <= DEFAULT_MAX_DEAD_LETTER_BYTES
        validate_json_schema("dead_letter_event", letter)
        assert letter["reason"].strip() and letter["component"] == "worker" and letter["topic"] == topics.raw
    for name, (code, names) in EXPECTED.items():
        letter = dead[f"{p}-{name}"][1]
        assert letter["error_code"] == code and names in letter["reason"], (name, letter["reason"])
    # case 2: 200 KB of control bytes escape to 1.2 MB; the dead letter is cut to fit, its origin kept
    control = dead[f"{p}-control_bytes"][1]
    assert control["payload_truncated"] and control["payload_bytes"] == 200_000
    for key, ticket_id in drawn_ids.items():  # every drawn record ends somewhere
        assert key in dead or ticket_id in classified, key
    for key in slow:  # classified, never stuck in cleaning
        assert key in classified, (key, dead.get(key, (None, {}))[1].get("reason"))

    # The worker survived all of it, and accounts for every record it read.
    assert worker.process.poll() is None, worker.log_tail()
    assert http("GET", f"{worker.url}/healthz") == (200, b'{"status":"ok"}')
    status, body = http("GET", f"{worker.url}/metrics")
    assert _metric(body, "tickets_consumed_total") == len(records)
    assert _metric(body, "tickets_classified_total") + _metric(body, "tickets_dead_lettered_total") == len(records)

    # POST /classify applies the same rules: 4xx with the reason, never a 5xx (case 5).
    for name, status in [("deep_nesting", 400), ("deep_object", 400), ("utf16", 400), ("utf8_bom", 400),
                         ("surrogate_subject", 422), ("year_one", 422)]:
        got, answer = http("POST", f"{worker.url}/classify", cases(p)[name])
        assert got == status and json.loads(answer)["detail"], (name, got, answer)
    got, answer = http("POST", f"{worker.url}/classify", encode(ticket(f"{p}-mb", "x" * 1_000_000)))
    assert got == 413 and json.loads(answer)["error"] == "payload_too_large"
    assert worker.process.poll() is None
