"""A multi-label ticket over a real broker and the Slack double: one message in each matching channel, once."""
from __future__ import annotations

import asyncio
import json

from schemas.models import DeadLetterEvent
from tests.fixtures.downstream import (
    as_records, classified_event, consume_all, multi_label_event, produce, settings_for,
)
from tests.fixtures.slack import CHANNELS
from tests.slack.test_notifier import _counter, _notifier, _run_until


def _where(fake_slack) -> dict[str, list[str]]:
    """ticket id → the channel ids it was posted to, in order."""
    out: dict[str, list[str]] = {}
    for message in fake_slack.posted():
        out.setdefault(message["metadata"]["event_payload"]["ticket_id"], []).append(message["channel"])
    return out


def test_each_label_s_channel_gets_one_message_and_a_redelivery_posts_none(
        kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    both = multi_label_event("T-BOTH")                                                   # Hardware + Access
    same = multi_label_event("T-SAME", labels=[{"label": "Storage", "probability": 0.8},  # both unmapped: the
                                               {"label": "Purchase", "probability": 0.6}],  # default channel, once
                             category="Storage")
    unsure = multi_label_event("T-UNSURE", labels=[], needs_human=True)
    single = classified_event("T-SINGLE", category="Hardware")
    events = [both, same, unsure, single]
    expected = {"T-BOTH": ["it-hardware", "it-access"], "T-SAME": ["it-tickets"], "T-UNSURE": ["it-triage"],
                "T-SINGLE": ["it-hardware"]}
    messages = sum(len(v) for v in expected.values())

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events + [both]))  # + a duplicate
        first = _notifier(settings, slack_env)
        await _run_until(first, lambda: _counter(first.metrics, "posted") + _counter(first.metrics, "duplicate")
                         == messages + 2)
        # a crash before the commit: another group reads everything again
        again = _notifier(settings, slack_env | {"TICKETS_SLACK_GROUP_ID": slack_env["TICKETS_SLACK_GROUP_ID"] + "-r"})
        await _run_until(again, lambda: _counter(again.metrics, "duplicate") == messages + 2)
        return first, again

    first, again = asyncio.run(scenario())
    assert _where(fake_slack) == {t: [CHANNELS[c] for c in channels] for t, channels in expected.items()}
    assert _counter(first.metrics, "posted") == messages and _counter(again.metrics, "posted") == 0
    for message in fake_slack.posted():
        if message["metadata"]["event_payload"]["ticket_id"] == "T-BOTH":
            assert "add_label" in json.dumps(message["blocks"])  # every copy can be edited


def test_a_channel_slack_refuses_dead_letters_the_ticket_after_its_other_channels_got_theirs(
        kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    env = slack_env | {"TICKETS_SLACK_CHANNEL_MAP": json.dumps({"Hardware": "#it-hardware", "Access": "#gone"})}

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([multi_label_event("T-PART")]))
        notifier = _notifier(settings, env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "dead_lettered") == 1)
        replayed = _notifier(settings, env | {"TICKETS_SLACK_GROUP_ID": env["TICKETS_SLACK_GROUP_ID"] + "-r"})
        await _run_until(replayed, lambda: _counter(replayed.metrics, "dead_lettered") == 1)
        return notifier, replayed, await consume_all(kafka_bootstrap, settings.kafka.topic_dlq, expected=2)

    notifier, replayed, dlq = asyncio.run(scenario())
    assert _where(fake_slack) == {"T-PART": [CHANNELS["it-hardware"]]}  # posted once, though handled twice
    assert _counter(notifier.metrics, "posted") == 1 and _counter(replayed.metrics, "duplicate") == 1
    letter = DeadLetterEvent.model_validate_json(dlq[0].value)
    assert letter.error_code == "slack_permanent_error" and "#gone" in letter.reason
