"""Property tests of the poison-pill policy: whatever a record holds, the notifier handles it or dead-letters it.

The real handler runs inside the real :class:`ConsumerLoop` against the
session's broker (dead letters are really produced) and the Slack double;
hypothesis feeds it arbitrary bytes, arbitrary JSON and mutated valid events,
after the known hostile cases. No exception may escape, each record must end
posted (once per channel) or dead-lettered with a reason, and each dead letter must fit its bound.
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
            messages = _channels(notifier, value)
            if len(loop.letters) > letters:              # dead-lettered, maybe after some channels got theirs
                assert 1 <= outcomes() - before <= messages + 1
                assert_dead_letter(loop.letters[-1], record)
            else:                                        # one outcome per channel: posted or duplicate
                assert outcomes() == before + messages

        for _, value in known_hostile_classified():
            check(value)
        given(classified_values)(FUZZ(check))()
        harness.run(notifier.poster.close())
    notifier.store.close()


def _channels(notifier: Notifier, value: bytes) -> int:
    """How many messages a record makes: one per channel of a valid event, else its dead letter."""
    from schemas.models import ClassifiedEvent

    try:
        event = ClassifiedEvent.model_validate_json(value)
    except ValueError:
        return 1
    return len(notifier.slack.channels_for(event.category, event.needs_human, event.label_names))
