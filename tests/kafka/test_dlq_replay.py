"""``replay-dlq`` on the real broker: letters are re-published byte for byte, filtered, counted, never approximated."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from schemas.models import DeadLetterEvent
from stream.kafka.dlq import dead_letter_record
from stream.kafka.dlq_replay import LetterFilter, parse_moment, replay_dead_letters
from tests.fixtures.kafka_io import REPO, read_topic

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


async def _produce_letters(bootstrap: str, topic: str, letters) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in letters:
            await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def _letter(topics, code: str, value: bytes | None, key: bytes, offset: int, *, minutes_ago: int = 0,
            topic: str | None = None, headers=None, **kw):
    return dead_letter_record(code, f"{code} for the test", value, key=key, headers=headers,
                              topic=topic or topics.raw, partition=0, offset=offset, component="worker",
                              failed_at=NOW - timedelta(minutes=minutes_ago), **kw)


@pytest.fixture
def staged(kafka_bootstrap, kafka_topics):
    """A DLQ holding letters of every kind, and the originals the replayable ones must give back."""
    topics = kafka_topics(partitions=2)
    odd = [("content-type", b"application/json"), ("trace", b"\x00\xff"), ("trace", b"again"), ("nothing", None)]
    letters = [
        _letter(topics, "payload_too_large", b'{"ticket_id": "big-1"}', b"big-1", 1, minutes_ago=90, headers=odd),
        _letter(topics, "payload_too_large", b"\xff\xfe not utf-8 \x00", b"big-2", 2, minutes_ago=30),
        _letter(topics, "schema_violation", b'{"ticket_id": "bad-1"}', b"bad-1", 3, minutes_ago=20),
        _letter(topics, "payload_too_large", b"x" * 40_000, b"huge", 4, minutes_ago=10, max_bytes=16 * 1024),
        _letter(topics, "payload_too_large", b"{}", b"k" * 3000, 5, minutes_ago=5, key_max_bytes=1024),
        _letter(topics, "slack_permanent_error", b'{"ticket_id": "n-1"}', b"n-1", 6, topic=topics.classified),
    ]
    assert letters[3].event.payload_base64 is None  # the original did not fit 16 KiB: no exact copy
    asyncio.run(_produce_letters(kafka_bootstrap, topics.dlq, letters))
    return topics, letters, odd


def _replay(kafka_bootstrap, topics, **kw):
    flt = {k: kw.pop(k) for k in ("reasons", "since", "until", "topic") if k in kw}
    letters = LetterFilter(topic=flt.pop("topic", topics.raw), **flt)
    return asyncio.run(replay_dead_letters(topics.kafka_settings(kafka_bootstrap), letters, idle_s=3, **kw))


def test_a_dry_run_counts_and_publishes_nothing(kafka_bootstrap, staged):
    topics, _, _ = staged
    report = _replay(kafka_bootstrap, topics, dry_run=True)
    assert report.as_dict() == {
        "dry_run": True, "read": 6, "matched": 5, "would_replay": 3, "stopped_at_limit": False,
        "not_replayable": {"no_exact_copy": 1, "key_truncated": 1}, "skipped": {"other_topic": 1}}
    assert asyncio.run(read_topic(kafka_bootstrap, topics.raw, lambda recs: False, 3)) == []


def test_letters_come_back_byte_for_byte_with_key_and_headers(kafka_bootstrap, staged):
    topics, letters, odd = staged
    report = _replay(kafka_bootstrap, topics, reasons=frozenset({"payload_too_large"}),
                     since=NOW - timedelta(hours=2))
    assert (report.replayed, dict(report.skipped)) == (2, {"other_reason": 1, "other_topic": 1})
    records = asyncio.run(read_topic(kafka_bootstrap, topics.raw, lambda recs: len(recs) >= 2, 20))
    back = {r.key: (r.value, list(r.headers)) for r in records}
    assert back == {b"big-1": (b'{"ticket_id": "big-1"}', odd), b"big-2": (b"\xff\xfe not utf-8 \x00", [])}


def test_time_window_limit_and_topic_select_the_letters(kafka_bootstrap, staged):
    topics, _, _ = staged
    window = _replay(kafka_bootstrap, topics, dry_run=True, since=NOW - timedelta(minutes=60),
                     until=NOW - timedelta(minutes=15))
    assert (window.replayed, window.skipped["before_since"], window.skipped["after_until"]) == (2, 1, 2)
    limited = _replay(kafka_bootstrap, topics, dry_run=True, limit=1)
    assert limited.replayed == 1 and limited.stopped_at_limit
    notifier = _replay(kafka_bootstrap, topics, topic=topics.classified)
    assert notifier.replayed == 1
    records = asyncio.run(read_topic(kafka_bootstrap, topics.classified, lambda recs: len(recs) >= 1, 20))
    assert [(r.key, r.value) for r in records] == [(b"n-1", b'{"ticket_id": "n-1"}')]


def test_times_are_rfc3339_dates_or_ages():
    now = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
    assert parse_moment("2h", now) == now - timedelta(hours=2)
    assert parse_moment("7d", now) == now - timedelta(days=7)
    assert parse_moment("2026-12-01") == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert parse_moment("2026-12-01T05:00:00+01:00") == datetime(2026, 12, 1, 4, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_moment("yesterday")


def _command(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stream", "replay-dlq", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def test_the_command_prints_a_report_and_explains_bad_arguments(kafka_bootstrap, staged):
    topics, _, _ = staged
    env = {"TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap, **topics.env()}
    done = _command(["--dry-run", "--reason", "schema_violation"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["would_replay"] == 1
    assert "replay-dlq: 6 read" in done.stderr  # progress
    assert "would replay" in done.stderr and "bad-1" in done.stderr  # a dry run lists what it would send
    partial = _command(["--dry-run"], env)
    assert partial.returncode == 1 and json.loads(partial.stdout)["not_replayable"] == {
        "no_exact_copy": 1, "key_truncated": 1}
    bad = _command(["--reason", "nope"], env)
    assert bad.returncode == 2 and "unknown --reason nope" in bad.stderr and "payload_too_large" in bad.stderr
    when = _command(["--since", "last tuesday"], env)
    assert when.returncode == 2 and "RFC 3339" in when.stderr
    missing = _command(["--dry-run"], {**env, "TICKETS_TOPIC_DLQ": "no-such-dlq-topic"})
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_letter_is_a_valid_event_whose_copy_matches_its_digest(staged):
    import base64
    import hashlib

    _, letters, _ = staged
    for record in letters:
        event = DeadLetterEvent.model_validate_json(record.value)
        if event.payload_base64 is not None:
            assert hashlib.sha256(base64.b64decode(event.payload_base64)).hexdigest() == event.payload_sha256
