"""Kafka client settings shared by the downstream consumers (notifier, sink, interactivity).

They are plain aiokafka clients with manual commits rather than Faust agents:
"commit only after the side effect is confirmed" is then a line of code we
can read, not a property of the framework's acking.
"""
from __future__ import annotations

import logging
from typing import Any

from stream.config import KafkaSettings
from stream.kafka.client import aiokafka_client_config

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

