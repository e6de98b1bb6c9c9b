"""Property tests of the poison-pill policy: whatever a record holds, the notifier handles it or dead-letters it.

The real handler runs inside the real :class:`ConsumerLoop` against the
session's broker (dead letters are really produced) and the Slack double;
hypothesis feeds it arbitrary bytes, arbitrary JSON and mutated valid events,
after the known hostile cases. No exception may escape, each record must end
posted or dead-lettered with a reason, and each dead letter must fit its bound.
"""
from __future__ import annotations

from hypothesis import given

from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.notifier import Notifier
from tests.fixtures.downstream import settings_for
from tests.fixtures.hostile_records import (
    FUZZ, OneRecordAtATime, RecordingLoop, assert_dead_letter, classified_values, known_hostile_classified,
)


def test_notifier_posts_or_dead_letters_any_record(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    notifier = Notifier(settings, SlackSettings.from_env(slack_env), metrics=slack_metrics.create())
    loop = RecordingLoop(settings, notifier, topics=[settings.kafka.topic_classified], group_id="unused")
    topic = settings.kafka.topic_classified

    def outcomes() -> float:
        return sum(s.value for s in notifier.metrics.messages.collect()[0].samples if s.name.endswith("_total"))

    with OneRecordAtATime(loop) as harness:
        def check(value: bytes) -> None:
            record = harness.record(topic, value)
            before, letters = outcomes(), len(loop.letters)
            harness.run(loop.process(record))           # raises if anything escapes
            assert outcomes() == before + 1              # exactly one outcome: posted, duplicate or dead-lettered
            if len(loop.letters) > letters:
                assert_dead_letter(loop.letters[-1], record)

        for _, value in known_hostile_classified():
            check(value)
        given(classified_values)(FUZZ(check))()
        harness.run(notifier.poster.close())
    notifier.store.close()
