"""Helpers shared by the notifier, interactivity and sink tests (plain functions, no fixtures)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.config import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "schemas" / "examples"


def settings_for(bootstrap: str, topics) -> Settings:
    """Settings on the test's own topics (a ``kafka_topics`` TopicSet) with quick group joins."""
    env = {
        "TICKETS_KAFKA_BOOTSTRAP": bootstrap,
        "TICKETS_KAFKA_SESSION_TIMEOUT_S": "2",
        "TICKETS_KAFKA_HEARTBEAT_S": "0.3",
    }
    return Settings.from_env(env | topics.env())


def classified_event(ticket_id: str, **overrides) -> dict:
    """A valid ClassifiedEvent (the schema's example) for ``ticket_id``, event_id derived from it."""
    event = json.loads((EXAMPLES / "classified_event" / "confident.json").read_text())
    event.update(ticket_id=ticket_id, needs_human=False)
    event.update(overrides)
    if "event_id" not in overrides:
        seed = f"{event['ticket_id']}|{event['model_version']}|{event['excerpt']}"
        event["event_id"] = hashlib.sha256(seed.encode()).hexdigest()[:32]
    return event


def feedback_event(ticket_id: str, at: str, corrected: str = "Hardware", **overrides) -> dict:
    event = json.loads((EXAMPLES / "feedback_event" / "slack.json").read_text())
    event.update(schema_version="1", ticket_id=ticket_id, corrected_category=corrected, previous_category="Storage",
                 model_version="20261124T091500Z-3fa2c1", user="U04ABCDEF", channel="slack:#it-storage",
                 source="slack", at=at)
    event.update(overrides)
    return event


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def as_records(events: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(e["ticket_id"].encode(), json.dumps(e).encode()) for e in events]


async def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 15.0) -> list:
    """Read ``topic`` from the start until ``expected`` records arrived (or the timeout: fewer)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    found = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(found) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for messages in batch.values():
                found.extend(messages)
        if expected == 0:  # proving absence: give stragglers a moment
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                found.extend(messages)
    finally:
        await consumer.stop()
    return found


async def committed_offsets(bootstrap: str, group: str, topics: list[str], partitions: int = 2) -> dict[tuple[str, int], int]:
    """What ``group`` has committed on ``topics``, as {(topic, partition): next offset}.

    Asked through a consumer that never joins the group (Tansu answers the
    admin client's OffsetFetch in a version aiokafka cannot decode).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        found = {}
        for topic in topics:
            for partition in range(partitions):
                offset = await consumer.committed(TopicPartition(topic, partition))
                if offset is not None:
                    found[(topic, partition)] = offset
        return found
    finally:
        await consumer.stop()


async def wait_until(predicate, timeout_s: float, interval_s: float = 0.2, what: str = "condition"):
    """Poll an (async or plain) predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(interval_s)
