"""``python -m stream sink``."""
from __future__ import annotations

from stream.config import Settings
from stream.downstream.settings import SnowflakeSettings
from stream.downstream.process import run_downstream


def run_sink(settings: Settings, snowflake: SnowflakeSettings) -> int:
    """Write classified and feedback events to Snowflake until SIGTERM."""
    from stream.sink.metrics import create
    from stream.sink.runner import SnowflakeSink

    kafka = settings.kafka
    return run_downstream(settings, snowflake, create(), [kafka.topic_classified, kafka.topic_feedback, kafka.topic_dlq],
                          lambda metrics: SnowflakeSink(settings, snowflake, metrics=metrics))
