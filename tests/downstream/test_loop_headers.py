"""The downstream loop reads input headers (never requires them) and writes lossless, self-describing dead letters."""
from __future__ import annotations

import base64
import json

from aiokafka.structs import ConsumerRecord

from schemas import DEAD_LETTER_SCHEMA_VERSION
from tests.api.documents import check_record
from tests.fixtures.downstream import settings_for
from tests.fixtures.hostile_records import OneRecordAtATime, RecordingLoop
from tests.fixtures.kafka_io import assert_standard_headers, read_topic


class Accepting:
    """A handler that takes every record (so only the loop's own checks can refuse one)."""

    component = "sink"
    infrastructure_errors = ()

    def __init__(self):
        self.handled, self.dead = [], []

    async def handle(self, message):
        self.handled.append(message.key)

    async def flush(self, items):
        return []

    def dead_lettered(self, message, error_code):
        self.dead.append((message.key, error_code))


def test_a_record_whose_content_type_is_not_json_is_dead_lettered_exactly(kafka_bootstrap, kafka_topics):
    import asyncio

    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    handler = Accepting()
    loop = RecordingLoop(settings, handler, topics=[], group_id="unused")
    value = b'{"ticket_id": "T-1"}'
    headers = [("content-type", b"text/csv"), ("ce_id", b"upstream-1"), ("bin", b"\x00\xff")]
    topic = settings.kafka.topic_classified
    with OneRecordAtATime(loop) as harness:
        refused = ConsumerRecord(topic, 0, 7, 0, 0, b"T-1", value, None, 1, len(value), headers)
        plain = ConsumerRecord(topic, 0, 8, 0, 0, b"T-2", value, None, 1, len(value), [])
        harness.run(loop.process(refused))
        harness.run(loop.process(plain))
    assert handler.handled == [b"T-2"] and handler.dead == [(b"T-1", "unsupported_content_type")]
    (record,) = asyncio.run(read_topic(kafka_bootstrap, settings.kafka.topic_dlq, lambda recs: len(recs) >= 1, 20))
    letter = json.loads(record.value)
    assert record.key == b"T-1" and base64.b64decode(letter["payload_base64"]) == value
    assert [(h["key"], base64.b64decode(h["value_base64"])) for h in letter["headers"]] == headers
    names = assert_standard_headers(record, "dead_letter_event", DEAD_LETTER_SCHEMA_VERSION, "sink")
    assert (names["dlq_error_code"], names["dlq_topic"], names["dlq_offset"]) == (
        "unsupported_content_type", topic, "7")
    check_record("DeadLetterEvent", record)
