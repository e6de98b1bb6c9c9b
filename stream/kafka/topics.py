"""The five topics: names from settings, explicit creation, Faust declarations.

Topics are created before any agent starts, with the configured partition
count: left to auto-creation, Tansu would make 4 partitions whatever we
configure, and Faust would create them with its own ``topic_partitions``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from stream.config import KafkaSettings
from stream.kafka.client import aiokafka_client_config

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


def topic_names(kafka: KafkaSettings) -> list[str]:
    return [kafka.topic_raw, kafka.topic_classified, kafka.topic_feedback, kafka.topic_dlq,
            kafka.topic_classified_shadow]


async def ensure_topics(kafka: KafkaSettings, names: list[str] | None = None, timeout_s: float = 30.0) -> dict[str, int]:
    """Create the missing topics with ``kafka.partitions`` partitions; return name → partition count.

    Existing topics are left alone (a warning says when their partition count
    differs from the setting: repartitioning is an operator's decision).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    names = names or topic_names(kafka)
    admin = AIOKafkaAdminClient(
        request_timeout_ms=int(timeout_s * 1000),
        **aiokafka_client_config(kafka, client_id="ticket-classifier-admin"),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, num_partitions=kafka.partitions, replication_factor=kafka.replication) for n in missing],
                timeout_ms=int(timeout_s * 1000),
            )
            for name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    message = rest[0] if rest else ""
                    raise RuntimeError(f"cannot create topic {name!r}: error code {code} {message or ''}".strip())
            log.info("created topics", extra={"topics": missing, "partitions": kafka.partitions})
        counts = {}
        for topic in await admin.describe_topics(names):
            counts[topic["topic"]] = len(topic["partitions"])
            if topic["topic"] in existing and counts[topic["topic"]] != kafka.partitions:
                log.warning(
                    "topic partition count differs from TICKETS_TOPIC_PARTITIONS",
                    extra={"topic": topic["topic"], "partitions": counts[topic["topic"]], "configured": kafka.partitions},
                )
        return counts
    finally:
        await admin.close()


@dataclass(frozen=True)
class Topics:
    """The Faust topic objects of one app; declared once, imported by the agents."""

    raw: object
    classified: object
    dlq: object
    shadow: object


def declare_topics(app, kafka: KafkaSettings) -> Topics:
    """Declare our topics on ``app``; values stay bytes so we own (de)serialisation and errors."""
    common = dict(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        partitions=kafka.partitions, replicas=kafka.replication,
    )
    return Topics(
        raw=app.topic(kafka.topic_raw, **common),
        classified=app.topic(kafka.topic_classified, **common),
        dlq=app.topic(kafka.topic_dlq, **common),
        shadow=app.topic(kafka.topic_classified_shadow, **common),
    )
