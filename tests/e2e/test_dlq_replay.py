"""Bad event → dead letter → fix → ``replay-dlq`` → classified, with the real worker and broker.

The "bad" ticket is a good ticket larger than the worker's ``TICKETS_MAX_PAYLOAD_BYTES``:
dead-lettered as ``payload_too_large``. The fix is the operator raising the
limit; the replay then sends the very bytes (and headers) the producer sent,
and the restarted worker classifies them. Every record read back carries the
standard headers.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid

import pytest

from schemas import CLASSIFIED_SCHEMA_VERSION, DEAD_LETTER_SCHEMA_VERSION
from schemas.models import DeadLetterEvent
from stream.kafka.headers import describe
from tests.api.documents import check_record
from tests.fixtures.hostile_tickets import encode, ticket
from tests.fixtures.kafka_io import REPO, assert_standard_headers, read_topic
from tests.fixtures.worker import worker_env

pytestmark = pytest.mark.slow


def test_a_dead_letter_is_replayed_after_the_fix_and_classified(
        kafka_bootstrap, kafka_topics, kafka_group_id, trained_registry, e5_embedders_root, start_worker):
    registry, _ = trained_registry
    topics = kafka_topics(partitions=1)
    p = f"dr{uuid.uuid4().hex[:6]}"
    small = encode(ticket(f"{p}-small", "vpn keeps disconnecting"))
    big = encode(ticket(f"{p}-big", "my laptop screen flickers and then goes black " * 60))
    plain = encode(ticket(f"{p}-plain", "printer on floor 3 is jammed"))
    assert len(small) < 1024 < len(big)
    producer_headers = [("content-type", b"application/json; charset=utf-8"), ("ce_id", b"producer-id-1"),
                        ("trace", b"\x00\xff\x10")]
    records = [(f"{p}-small".encode(), small, [("content-type", b"application/json")]),
               (f"{p}-big".encode(), big, producer_headers),
               (f"{p}-plain".encode(), plain, [("content-type", b"text/plain")])]
    asyncio.run(_produce_with_headers(kafka_bootstrap, topics.raw, records))

    app_id = kafka_group_id("replay-dlq")
    env = worker_env(kafka_bootstrap, topics, registry, app_id, TICKETS_EMBEDDER_DIR=str(e5_embedders_root),
                     TICKETS_MAX_PAYLOAD_BYTES="1024")
    worker = start_worker(env)
    worker.wait_ready(90)
    dlq = asyncio.run(read_topic(kafka_bootstrap, topics.dlq, lambda recs: len(recs) >= 2, 90))
    classified = asyncio.run(read_topic(kafka_bootstrap, topics.classified, lambda recs: len(recs) >= 1, 60))
    assert worker.stop() == 0, worker.log_tail()
    assert '"ce_id": "producer-id-1"' in worker.log_path.read_text()  # the producer's id, logged with its letter

    # The good ticket: ClassifiedEvent with the standard headers, ce_id = its deterministic event id.
    assert len(classified) == 1, worker.log_tail()
    event = json.loads(classified[0].value)
    headers = assert_standard_headers(classified[0], "classified_event", CLASSIFIED_SCHEMA_VERSION, "worker")
    assert headers["ce_id"] == event["event_id"] and headers["ce_subject"] == event["ticket_id"] == f"{p}-small"
    check_record("ClassifiedEvent", classified[0])  # as docs/api/asyncapi.json describes it

    # The two bad ones: exact copies, error context in headers.
    letters = {r.key: r for r in dlq}
    too_large = DeadLetterEvent.model_validate_json(letters[f"{p}-big".encode()].value)
    assert too_large.error_code == "payload_too_large"
    assert base64.b64decode(too_large.payload_base64) == big
    assert [(h.key, base64.b64decode(h.value_base64)) for h in too_large.headers] == producer_headers
    letter_headers = assert_standard_headers(letters[f"{p}-big".encode()], "dead_letter_event",
                                             DEAD_LETTER_SCHEMA_VERSION, "worker")
    assert (letter_headers["dlq_error_code"], letter_headers["dlq_topic"], letter_headers["dlq_replayable"]) == (
        "payload_too_large", topics.raw, "true")
    for record in dlq:
        check_record("DeadLetterEvent", record)
    refused = describe(letters[f"{p}-plain".encode()].headers)
    assert refused["dlq_error_code"] == "unsupported_content_type" and "text/plain" in refused["dlq_reason"]

    # The fix: the limit goes back up; the same consumer group resumes after its committed offsets.
    env["TICKETS_MAX_PAYLOAD_BYTES"] = str(256 * 1024)
    worker = start_worker(env)
    worker.wait_ready(90)
    command = [sys.executable, "-m", "stream", "replay-dlq", "--reason", "payload_too_large", "--no-progress"]
    run_env = {**os.environ, **env}
    dry = subprocess.run([*command, "--dry-run"], cwd=REPO, env=run_env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and json.loads(dry.stdout)["would_replay"] == 1, dry.stderr
    done = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"read": None} == {
        "dry_run": False, "read": None, "matched": 1, "replayed": 1, "not_replayable": {},
        "skipped": {"other_reason": 1}, "stopped_at_limit": False}

    raw = asyncio.run(read_topic(kafka_bootstrap, topics.raw, lambda recs: len(recs) >= 4, 30))
    replayed = raw[-1]
    assert (replayed.key, replayed.value, list(replayed.headers)) == (f"{p}-big".encode(), big, producer_headers)
    classified = asyncio.run(read_topic(
        kafka_bootstrap, topics.classified,
        lambda recs: any(json.loads(r.value)["ticket_id"] == f"{p}-big" for r in recs), 90))
    got = [r for r in classified if json.loads(r.value)["ticket_id"] == f"{p}-big"]
    assert len(got) == 1, worker.log_tail()
    assert_standard_headers(got[0], "classified_event", CLASSIFIED_SCHEMA_VERSION, "worker")


async def _produce_with_headers(bootstrap: str, topic: str, records) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
