"""Property tests of the poison-pill policy: whatever a record holds, the sink handles it or dead-letters it.

The real handler runs inside the real :class:`ConsumerLoop` against the
session's broker (dead letters are really produced) and the fakesnow server;
hypothesis feeds it arbitrary bytes, arbitrary JSON and mutated valid events,
after the known hostile cases. No exception may escape, each record must end
written or dead-lettered with a reason, and each dead letter must fit its bound.
"""
from __future__ import annotations

import asyncio

from hypothesis import given

from stream.downstream.settings import SnowflakeSettings
from stream.sink import metrics as sink_metrics
from stream.sink.runner import SnowflakeSink
from tests.fixtures.downstream import settings_for
from tests.fixtures.hostile_records import (
    FUZZ, OneRecordAtATime, RecordingLoop, assert_dead_letter, classified_values, feedback_values,
    known_hostile_classified,
)


def test_sink_writes_or_dead_letters_any_record(kafka_bootstrap, kafka_topics, snowflake_env, kafka_group_id):
    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    snowflake = SnowflakeSettings.from_env(snowflake_env | {"TICKETS_SINK_GROUP_ID": kafka_group_id("sink")})
    sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
    loop = RecordingLoop(settings, sink, topics=[], group_id="unused")
    kafka = settings.kafka

    def written() -> float:
        return sum(s.value for s in sink.metrics.rows_written.collect()[0].samples if s.name.endswith("_total"))

    with OneRecordAtATime(loop) as harness:
        harness.run(sink._open_tables_with_retry())

        def check(topic: str, value: bytes) -> None:
            record = harness.record(topic, value)
            letters, rows = len(loop.letters), written()
            harness.run(loop.process(record))
            drained = loop.batch.drain()                 # the loop's flush, minus the commit
            for message, exc in harness.run(sink.flush(drained.rows)):
                harness.run(loop.dead_letter(message, exc))
            handled = written() - rows
            dead = len(loop.letters) - letters
            assert handled + dead == 1                   # written, or dead-lettered: never both, never neither
            if dead:
                assert_dead_letter(loop.letters[-1], record)

        for _, value in known_hostile_classified():
            check(kafka.topic_classified, value)
        given(classified_values)(FUZZ(lambda value: check(kafka.topic_classified, value)))()
        given(feedback_values)(FUZZ(lambda value: check(kafka.topic_feedback, value)))()
        harness.run(asyncio.to_thread(sink._conn.close))
