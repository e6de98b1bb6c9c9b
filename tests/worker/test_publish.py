"""Publishing outputs: what the broker refuses comes back to be dead-lettered; infrastructure failures retry, then stop.

On the session broker with real aiokafka producers whose ``max_request_size`` is
set low, so "too large" is the client's real ``MessageSizeTooLargeError``.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)
from faust.exceptions import ProducerSendError

from schemas import validate_json_schema
from stream.worker.agents import FALLBACK_DEAD_LETTER_BYTES, FALLBACK_KEY_BYTES, BatchHandler
from stream.exceptions import PublishError
from stream.worker.publish import Output, publish, refused_by_broker
from tests.fixtures.hostile_tickets import encode, ticket
from tests.fixtures.inprocess_worker import AckingStream, in_process_worker, raw_event
from tests.fixtures.kafka_io import read_topic


class ProducerTopic:
    """A topic on the real broker behind a real producer (what Faust's ``topic.send`` does, minus Faust)."""

    def __init__(self, producer: AIOKafkaProducer, name: str):
        self.producer, self.name = producer, name

    async def send(self, *, key=None, value=None, headers=None):
        return await self.producer.send(self.name, value, key=key, headers=headers)


class FailingTopic:
    """A topic whose every send fails with ``error`` (an outage cannot be staged on the shared broker)."""

    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    async def send(self, *, key=None, value=None, headers=None):
        self.calls += 1
        raise self.error


def _wrapped(inner: Exception) -> Exception:
    try:
        raise ProducerSendError(f"Error while sending: {inner!r}") from inner
    except ProducerSendError as exc:
        return exc


@pytest.mark.parametrize(("error", "refused"), [
    (MessageSizeTooLargeError("too big"), True),
    (_wrapped(MessageSizeTooLargeError("too big")), True),   # how Faust's producer raises it
    (KafkaTimeoutError(), False),                             # retriable=False, yet not the record's fault
    (KafkaConnectionError("down"), False),
    (NotLeaderForPartitionError(), False),
    (TopicAuthorizationFailedError(), False),
    (_wrapped(KafkaTimeoutError()), False),
    (RuntimeError("producer closed"), False),
])
def test_only_record_level_errors_count_as_refused(error, refused):
    assert refused_by_broker(error) is refused


@pytest.mark.parametrize("error", [KafkaTimeoutError(), KafkaConnectionError("broker unavailable"),
                                   _wrapped(KafkaTimeoutError())])
def test_infrastructure_failures_are_retried_then_stop_the_worker(error):
    topic = FailingTopic(error)
    with pytest.raises(PublishError) as stopped:
        asyncio.run(publish([Output(topic, b"k", b"v", source=None)], attempts=3, backoff_s=0.01))
    assert topic.calls == 3 and stopped.value.count == 1


def test_a_record_the_broker_refuses_comes_back_and_the_others_are_published(kafka_bootstrap, kafka_topics):
    topics = kafka_topics(partitions=1)

    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=4096)
        await producer.start()
        try:
            topic = ProducerTopic(producer, topics.classified)
            outputs = [Output(topic, b"a", b"small a", "A"), Output(topic, b"big", b"x" * 10_000, "BIG"),
                       Output(topic, b"b", b"small b", "B")]
            return await publish(outputs)
        finally:
            await producer.stop()

    refused = asyncio.run(run())
    assert [(out.source, type(exc).__name__) for out, exc in refused] == [("BIG", "MessageSizeTooLargeError")]
    records = asyncio.run(read_topic(kafka_bootstrap, topics.classified, lambda recs: len(recs) >= 2, 30))
    assert sorted(r.value for r in records) == [b"small a", b"small b"]


@pytest.fixture(scope="module")
def predictor(worker_predictor):
    return worker_predictor


def _handle_on_broker(kafka_bootstrap, topics, predictor, values, classified_max, dlq_max, keys=None, **env):
    """Run one batch through the handler, publishing with real producers of the given max request sizes."""
    async def scenario(executor):
        producers = [AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=size)
                     for size in (classified_max, dlq_max)]
        for producer in producers:
            await producer.start()
        try:
            broker_topics = SimpleNamespace(classified=ProducerTopic(producers[0], topics.classified),
                                            dlq=ProducerTopic(producers[1], topics.dlq))
            worker = in_process_worker(predictor, executor, topics=broker_topics, **env)
            stream = AckingStream()
            events = [raw_event(v, i, key=keys[i] if keys else f"k{i}".encode()) for i, v in enumerate(values)]
            await BatchHandler(worker).handle(stream, events)
            return stream
        finally:
            for producer in producers:
                await producer.stop()

    with ThreadPoolExecutor(1) as executor:
        return asyncio.run(scenario(executor))


def test_a_classified_event_the_broker_refuses_is_dead_lettered_and_the_batch_goes_on(
        kafka_bootstrap, kafka_topics, predictor):
    topics = kafka_topics(partitions=1)
    values = [encode(ticket("long-subject", subject="s" * 1000)), encode(ticket("normal"))]
    # room for the normal event and its headers (~500 bytes), not for 1,000 more characters of subject
    stream = _handle_on_broker(kafka_bootstrap, topics, predictor, values, classified_max=2200, dlq_max=1024 * 1024)
    assert len(stream.acked) == 2
    dead = asyncio.run(read_topic(kafka_bootstrap, topics.dlq, lambda recs: len(recs) >= 1, 30))
    classified = asyncio.run(read_topic(kafka_bootstrap, topics.classified, lambda recs: len(recs) >= 1, 30))
    assert [json.loads(r.value)["ticket_id"] for r in classified] == ["normal"]
    (letter,) = [json.loads(r.value) for r in dead]
    validate_json_schema("dead_letter_event", letter)
    assert letter["error_code"] == "processing_failed"
    assert "publishing the ClassifiedEvent failed" in letter["reason"] and "MessageSizeTooLargeError" in letter["reason"]
    assert letter["payload_sha256"] == hashlib.sha256(values[0]).hexdigest()


def test_a_dead_letter_the_broker_refuses_is_resent_smaller_keeping_its_reason(kafka_bootstrap, kafka_topics, predictor):
    topics = kafka_topics(partitions=1)
    raw = b"\x01" * 200_000
    stream = _handle_on_broker(kafka_bootstrap, topics, predictor, [raw], classified_max=1024 * 1024,
                               dlq_max=FALLBACK_DEAD_LETTER_BYTES + 4096, TICKETS_DLQ_MAX_BYTES=str(256 * 1024))
    assert len(stream.acked) == 1
    (record,) = asyncio.run(read_topic(kafka_bootstrap, topics.dlq, lambda recs: len(recs) >= 1, 30))
    letter = json.loads(record.value)
    assert len(record.value) <= FALLBACK_DEAD_LETTER_BYTES
    assert letter["error_code"] == "invalid_json" and "MessageSizeTooLargeError" in letter["reason"]
    assert letter["payload_truncated"] and letter["payload_bytes"] == len(raw)
    assert letter["payload_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_dead_letter_refused_for_its_huge_key_is_resent_with_the_key_cut(kafka_bootstrap, kafka_topics, predictor):
    topics = kafka_topics(partitions=1)
    key = b"K" * 40_000
    stream = _handle_on_broker(kafka_bootstrap, topics, predictor, [b"not json"], classified_max=1024 * 1024,
                               dlq_max=32 * 1024, keys=[key])
    assert len(stream.acked) == 1
    (record,) = asyncio.run(read_topic(kafka_bootstrap, topics.dlq, lambda recs: len(recs) >= 1, 30))
    assert record.key == key[:FALLBACK_KEY_BYTES]
    letter = json.loads(record.value)
    assert letter["error_code"] == "invalid_json" and letter["payload"] == "not json"
    headers = dict(record.headers)  # a cut key cannot be replayed exactly, and says so
    assert headers["dlq_key_truncated"] == b"true" and headers["dlq_replayable"] == b"false"


def test_when_even_a_small_dead_letter_is_refused_the_worker_stops_uncommitted(kafka_bootstrap, kafka_topics, predictor):
    topics = kafka_topics(partitions=1)
    with pytest.raises(PublishError, match="dead letter refused"):
        _handle_on_broker(kafka_bootstrap, topics, predictor, [b"not json"], classified_max=1024 * 1024, dlq_max=200)
