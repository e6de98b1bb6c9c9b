"""The notifier over a real broker and a loopback Slack: routing, rate limits, DLQ, no double posts."""
from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest

from schemas import DEAD_LETTER_SCHEMA_VERSION
from schemas.models import DeadLetterEvent
from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.exceptions import SlackUnavailable
from stream.slack.notifier import Notifier
from tests.fixtures.kafka_io import assert_standard_headers
from tests.fixtures.logs import rendered
from tests.fixtures.downstream import (
    as_records, classified_event, committed_offsets, consume_all, produce, settings_for, wait_until,
)
from tests.fixtures.slack import CHANNELS


def _counter(metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("tickets_slack_messages_total", {"outcome": outcome}) or 0.0


async def _run_until(notifier: Notifier, done, timeout_s: float = 20.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        await wait_until(lambda: done() or task.done(), timeout_s, what="the notifier to finish its work")
    finally:
        stop.set()
        await task


def _notifier(settings, env) -> Notifier:
    return Notifier(settings, SlackSettings.from_env(env), metrics=slack_metrics.create())


def test_messages_land_in_the_channel_of_their_category(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    events = [classified_event("T-ACC", category="Access"), classified_event("T-HW", category="Hardware"),
              classified_event("T-OTHER", category="Purchase"),
              classified_event("T-UNSURE", category="Access", needs_human=True)]
    expected = {"T-ACC": "it-access", "T-HW": "it-hardware", "T-OTHER": "it-tickets", "T-UNSURE": "it-triage"}

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events))
        notifier = _notifier(settings, slack_env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "posted") == len(events))
        return await committed_offsets(kafka_bootstrap, notifier.slack.group_id, [settings.kafka.topic_classified])

    committed = asyncio.run(scenario())
    posted = fake_slack.posted()
    assert len(posted) == len(events)
    by_ticket = {m["metadata"]["event_payload"]["ticket_id"]: m for m in posted}
    for ticket_id, channel in expected.items():
        message = by_ticket[ticket_id]
        assert message["channel"] == CHANNELS[channel], ticket_id
        blocks = json.dumps(message["blocks"])
        assert ticket_id in blocks and "confirm_category" in blocks and "pick_category" in blocks
    assert "Needs a human" in json.dumps(by_ticket["T-UNSURE"]["blocks"])
    assert sum(committed.values()) == len(events)  # every offset committed after posting


def test_rate_limited_post_is_retried_after_retry_after_and_delivered_once(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([classified_event("T-429")]))
        notifier = _notifier(settings, slack_env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "posted") == 1)
        return notifier

    notifier = asyncio.run(scenario())
    calls = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0  # Retry-After honoured
    assert len(fake_slack.posted()) == 1
    assert _counter(notifier.metrics, "posted") == 1


def test_channel_not_found_goes_to_the_dlq_not_forever_retries(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    env = slack_env | {"TICKETS_SLACK_CHANNEL_MAP": json.dumps({"Access": "#no-such-channel"})}
    events = [classified_event("T-LOST", category="Access"), classified_event("T-FINE", category="Hardware")]

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events))
        notifier = _notifier(settings, env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "posted") + _counter(notifier.metrics, "dead_lettered") == 2)
        dlq = await consume_all(kafka_bootstrap, settings.kafka.topic_dlq, expected=1)
        return notifier, dlq

    notifier, dlq = asyncio.run(scenario())
    assert len(dlq) == 1
    letter = DeadLetterEvent.model_validate_json(dlq[0].value)
    assert letter.error_code == "slack_permanent_error" and "channel_not_found" in letter.reason
    assert letter.component == "notifier" and letter.topic == settings.kafka.topic_classified
    assert json.loads(letter.payload)["ticket_id"] == "T-LOST" and dlq[0].key == b"T-LOST"
    # the exact original record, and the error context in headers
    original = [r for r in as_records(events) if r[0] == b"T-LOST"][0]
    assert base64.b64decode(letter.payload_base64) == original[1] and letter.headers == []
    headers = assert_standard_headers(dlq[0], "dead_letter_event", DEAD_LETTER_SCHEMA_VERSION, "notifier")
    assert (headers["dlq_error_code"], headers["dlq_component"], headers["dlq_replayable"]) == (
        "slack_permanent_error", "notifier", "true")
    assert len(fake_slack.calls_to("chat.postMessage")) == 2  # one attempt each: no retry of a permanent error
    assert [m["metadata"]["event_payload"]["ticket_id"] for m in fake_slack.posted()] == ["T-FINE"]
    assert notifier.metrics.registry.get_sample_value("tickets_slack_errors_total", {"error": "channel_not_found"}) == 1


def test_a_refused_bot_token_stops_the_notifier_uncommitted_and_dead_letters_nothing(
        kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    """invalid_auth would fail every ticket alike: the notifier's problem, not the tickets'."""
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    events = [classified_event("T-AUTH-1"), classified_event("T-AUTH-2", category="Access")]

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events))
        refused = _notifier(settings, slack_env | {"TICKETS_SLACK_BOT_TOKEN": "xoxb-revoked-token"})
        with pytest.raises(SlackUnavailable, match="invalid_auth"):
            await asyncio.wait_for(refused.run(asyncio.Event()), 60)
        fixed = _notifier(settings, slack_env)  # the same group: it starts from what was committed
        await _run_until(fixed, lambda: _counter(fixed.metrics, "posted") == len(events))
        return refused, fixed

    refused, fixed = asyncio.run(scenario())
    assert _counter(refused.metrics, "dead_lettered") == 0 == _counter(fixed.metrics, "dead_lettered")
    assert sorted(m["metadata"]["event_payload"]["ticket_id"] for m in fake_slack.posted()) == ["T-AUTH-1", "T-AUTH-2"]


def test_redelivered_events_are_not_posted_twice(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    events = [classified_event(f"T-{i}") for i in range(3)]

    async def scenario():
        topic = settings.kafka.topic_classified
        await produce(kafka_bootstrap, topic, as_records(events + events[:1]))  # a duplicate in the stream
        first = _notifier(settings, slack_env)
        await _run_until(first, lambda: _counter(first.metrics, "posted") + _counter(first.metrics, "duplicate") == 4)
        # a crash between posting and committing: a new group reads everything again
        second = _notifier(settings, slack_env | {"TICKETS_SLACK_GROUP_ID": slack_env["TICKETS_SLACK_GROUP_ID"] + "-replay"})
        await _run_until(second, lambda: _counter(second.metrics, "duplicate") == 4)
        return first, second

    first, second = asyncio.run(scenario())
    assert _counter(first.metrics, "posted") == 3 and _counter(first.metrics, "duplicate") == 1
    assert _counter(second.metrics, "posted") == 0
    assert len(fake_slack.posted()) == 3


def test_a_claim_left_by_a_crash_mid_post_is_resolved_from_slack_metadata(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    event = classified_event("T-CRASH", category="Access")

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([event]))
        notifier = _notifier(settings, slack_env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "posted") == 1)
        # as if we had crashed after Slack accepted the post but before confirming it
        from stream.slack.dedupe import PostedStore

        store = PostedStore(slack_env["TICKETS_SLACK_DEDUPE_PATH"])
        store.claim(event["event_id"], "#it-access")
        store.close()
        again = _notifier(settings, slack_env | {"TICKETS_SLACK_GROUP_ID": slack_env["TICKETS_SLACK_GROUP_ID"] + "-after-crash"})
        await _run_until(again, lambda: _counter(again.metrics, "duplicate") == 1)

    asyncio.run(scenario())
    assert len(fake_slack.posted()) == 1
    assert len(fake_slack.calls_to("conversations.history")) == 1


def test_without_a_token_it_logs_what_it_would_post(kafka_bootstrap, kafka_topics, fake_slack, slack_env, caplog):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    env = {k: v for k, v in slack_env.items() if k != "TICKETS_SLACK_BOT_TOKEN"}
    event = classified_event("T-DRY", category="Hardware", subject="printer on floor 3 jams")

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([event]))
        notifier = _notifier(settings, env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "dry_run") == 1)

    with caplog.at_level(logging.DEBUG, logger="stream"):
        asyncio.run(scenario())
    assert fake_slack.calls == []
    line = rendered([r for r in caplog.records if "would post" in r.getMessage()])
    assert "#it-hardware" in line and "T-DRY" in line and "xoxb" not in line
    # logging promises no ticket text at INFO: subject and excerpt only at DEBUG (message or extra= fields)
    texts = [event["subject"], event["excerpt"][:40]]
    info = rendered(caplog.records, logging.INFO)
    debug = rendered(caplog.records, logging.DEBUG, logging.DEBUG)
    assert all(text not in info for text in texts), info
    assert all(text in debug for text in texts)


def test_slack_staying_down_stops_the_notifier_without_committing(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    from stream.slack.exceptions import SlackUnavailable

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    env = slack_env | {"TICKETS_SLACK_MAX_ATTEMPTS": "3", "TICKETS_SLACK_BACKOFF_S": "0.05"}
    fake_slack.fail_next("chat.postMessage", "service_unavailable", times=3)

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([classified_event("T-DOWN")]))
        notifier = _notifier(settings, env)
        task = asyncio.create_task(notifier.run(asyncio.Event()))
        await wait_until(task.done, 20, what="the notifier to give up")
        committed = await committed_offsets(kafka_bootstrap, env["TICKETS_SLACK_GROUP_ID"],
                                            [settings.kafka.topic_classified])
        return task, committed

    task, committed = asyncio.run(scenario())
    assert isinstance(task.exception(), SlackUnavailable)
    assert committed == {}  # the ticket will be delivered again after the restart
    assert len(fake_slack.calls_to("chat.postMessage")) == 3 and fake_slack.posted() == []


def test_menu_labels_come_from_the_promoted_model_when_not_configured(tmp_path):
    from stream.slack.notifier import resolve_labels

    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(
        {"version": "v1", "feature_blocks": ["embedding"], "labels": ["Access", "HR Support", "Storage"]}))
    (tmp_path / "PROMOTED").write_text("v1\n")
    assert resolve_labels(SlackSettings.from_env({}), tmp_path) == ("Access", "HR Support", "Storage")
    configured = SlackSettings.from_env({"TICKETS_SLACK_LABELS": '["X"]'})
    assert resolve_labels(configured, tmp_path) == ("X",)
    mapped = SlackSettings.from_env({"TICKETS_SLACK_CHANNEL_MAP": '{"Y": "#y"}'})
    assert resolve_labels(mapped, tmp_path / "missing") == ("Y",)


def test_a_post_that_failed_after_slack_accepted_it_is_not_repeated(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    fake_slack.fail_after_doing_next("chat.postMessage", status=500)

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records([classified_event("T-500")]))
        notifier = _notifier(settings, slack_env)
        await _run_until(notifier, lambda: _counter(notifier.metrics, "posted") == 1)

    asyncio.run(scenario())
    assert len(fake_slack.posted()) == 1
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [500]  # found, so never re-sent
    assert len(fake_slack.calls_to("conversations.history")) == 1


def test_hostile_records_are_dead_lettered_and_the_good_ones_behind_them_posted(
        kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    """Cases 2 and 6 and a generated sample, then good events: the notifier stays up and posts what it can."""
    from tests.fixtures.hostile_records import CONTROL_BYTES, INJECTED_TICKET_ID, classified_values, sample
    from tests.slack.harmless import assert_harmless

    generated = sample(classified_values, 6)

    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    hostile = [CONTROL_BYTES, b"{not json", *generated]
    injected = json.dumps(classified_event(INJECTED_TICKET_ID)).encode()
    good = [classified_event(f"T-GOOD-{i}") for i in range(3)]
    records = [(b"k", value) for value in hostile] + [(INJECTED_TICKET_ID.encode(), injected)] + as_records(good)
    invalid = sum(1 for value in hostile if not _valid(value))

    async def scenario():
        # one partition keeps the order: every good event is *behind* the hostile ones
        await produce(kafka_bootstrap, settings.kafka.topic_classified, records)
        notifier = _notifier(settings, slack_env | {"TICKETS_SLACK_GROUP_ID": f"{slack_env['TICKETS_SLACK_GROUP_ID']}-h"})
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))

        # The good events are last in the one partition, so once they are posted every record before
        # them was handled (a generated multi-label event may post to several channels: count tickets).
        wanted = {e["ticket_id"] for e in good} | {INJECTED_TICKET_ID}

        def handled() -> bool:
            return wanted <= {m["metadata"]["event_payload"]["ticket_id"] for m in fake_slack.posted()}

        await wait_until(lambda: task.done() or handled(), 30, what="every record handled")
        alive = not task.done()
        stop.set()
        await task
        dlq = await consume_all(kafka_bootstrap, settings.kafka.topic_dlq, expected=invalid)
        return notifier, alive, dlq

    notifier, alive, dlq = asyncio.run(scenario())
    assert alive, generated
    assert _counter(notifier.metrics, "dead_lettered") == invalid == len(dlq), generated
    letters = [DeadLetterEvent.model_validate_json(r.value) for r in dlq]
    assert all(letter.reason and len(r.value) <= 512 * 1024 for letter, r in zip(letters, dlq))
    control = next(letter for letter in letters if letter.payload_bytes == len(CONTROL_BYTES))
    assert control.payload_truncated and control.error_code == "schema_violation"
    posted = {m["metadata"]["event_payload"]["ticket_id"]: m for m in fake_slack.posted()}
    assert {e["ticket_id"] for e in good} | {INJECTED_TICKET_ID} <= set(posted)
    for message in posted.values():
        assert_harmless(message, notifier.slack.ticket_url_template)


def _valid(value: bytes) -> bool:
    from schemas.models import ClassifiedEvent

    try:
        ClassifiedEvent.model_validate_json(value)
        return True
    except ValueError:
        return False
