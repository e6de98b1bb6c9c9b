"""Kafka plumbing shared by the downstream consumers (notifier, sink, interactivity).

They are plain aiokafka clients with manual commits rather than Faust agents:
"commit only after the side effect is confirmed" is then a line of code we
can read, not a property of the framework's acking.
"""
from __future__ import annotations

import logging
from typing import Any

from stream.config import KafkaSettings
from stream.kafka_config import aiokafka_client_config

log = logging.getLogger(__name__)


def consumer_kwargs(kafka: KafkaSettings, group_id: str) -> dict[str, Any]:
    """A consumer in its own group that commits by hand and starts at the beginning."""
    return aiokafka_client_config(kafka, client_id=group_id) | {
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": int(kafka.session_timeout_s * 1000),
        "heartbeat_interval_ms": int(kafka.heartbeat_s * 1000),
    }


def producer_kwargs(kafka: KafkaSettings, client_id: str) -> dict[str, Any]:
    """A producer whose sends are acknowledged by every in-sync replica before we move on."""
    return aiokafka_client_config(kafka, client_id=client_id) | {"acks": "all"}


def dead_letter_json(*, error_code: str, reason: str, component: str, payload: bytes | None,
                     topic: str, partition: int, offset: int, max_payload_bytes: int | None = None) -> bytes:
    """A ``DeadLetterEvent`` as JSON bytes, built by :func:`stream.dlq.make_dead_letter` like the worker's."""
    from stream.dlq import make_dead_letter

    return make_dead_letter(error_code, reason, payload, topic=topic, partition=partition, offset=offset,
                            component=component, max_payload_bytes=max_payload_bytes).to_json_bytes()
