"""``python -m stream sink``."""
from __future__ import annotations

from stream.config import Settings
from stream.downstream.settings import SnowflakeSettings
from stream.downstream.process import run_downstream


def run_sink(settings: Settings, snowflake: SnowflakeSettings) -> int:
    """Write classified (served and shadow) and feedback events to Snowflake until SIGTERM."""
    from stream.sink.metrics import create
    from stream.sink.runner import SnowflakeSink

    kafka = settings.kafka
    topics = [kafka.topic_classified, kafka.topic_classified_shadow, kafka.topic_feedback, kafka.topic_dlq]
    return run_downstream(settings, snowflake, create(), topics,
                          lambda metrics: SnowflakeSink(settings, snowflake, metrics=metrics))
