"""The interactivity endpoint over HTTP: signed clicks become FeedbackEvents on the real broker."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from schemas.models import SCHEMA_VERSION, FeedbackEvent
from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, feedback_context
from stream.slack.interactivity import PATH, create_app
from tests.fixtures.downstream import consume_all, settings_for
from tests.fixtures.kafka_io import assert_standard_headers
from tests.slack.signed_requests import SECRET, signed_headers



MESSAGE_TS = "1764660000.000100"
ACTION_TS = "1764660123.456789"


def _block_actions(action: dict, **overrides) -> dict:
    """A ``block_actions`` payload as Slack sends it (the fields we read)."""
    return {
        "type": "block_actions",
        "user": {"id": "U123", "username": "alice"},
        "channel": {"id": "C0ACCESS", "name": "it-access"},
        "container": {"type": "message", "message_ts": MESSAGE_TS},
        "actions": [action],
    } | overrides


def _payload(action: dict, **overrides) -> bytes:
    return urlencode({"payload": json.dumps(_block_actions(action, **overrides))}).encode()


def _confirm(action_ts: str = ACTION_TS) -> dict:
    return {"action_id": CONFIRM_ACTION, "block_id": feedback_context("INC-7", "Access", "v1"), "value": "Access",
            "action_ts": action_ts}


def _pick(category: str) -> dict:
    return {"action_id": PICK_ACTION, "block_id": feedback_context("INC-8", "Access", "v1"), "action_ts": ACTION_TS,
            "selected_option": {"value": category, "text": {"type": "plain_text", "text": category}}}


_signed = signed_headers


async def _exchange(bootstrap: str, settings, requests: list[tuple[bytes, dict]], answers: list | None = None):
    """Serve the endpoint, send ``requests``, return (statuses, metrics); ``answers`` collects the bodies."""
    slack = SlackSettings.from_env({"TICKETS_SLACK_SIGNING_SECRET": SECRET})
    metrics = slack_metrics.create()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    runner = web.AppRunner(create_app(slack, settings.kafka, producer, metrics))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    statuses = []
    try:
        async with aiohttp.ClientSession() as session:
            for body, headers in requests:
                async with session.post(f"http://{host}:{port}{PATH}", data=body, headers=headers) as response:
                    statuses.append(response.status)
                    if answers is not None:
                        answers.append(await response.text())
    finally:
        await runner.cleanup()
        await producer.stop()
    return statuses, metrics


def test_signed_clicks_become_feedback_events(kafka_bootstrap, kafka_topics):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    confirm, pick = _payload(_confirm()), _payload(_pick("Hardware"))

    async def scenario():
        statuses, metrics = await _exchange(kafka_bootstrap, settings, [(confirm, _signed(confirm)), (pick, _signed(pick))])
        records = await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=2)
        return statuses, metrics, records

    statuses, metrics, records = asyncio.run(scenario())
    assert statuses == [200, 200]
    events = {FeedbackEvent.model_validate_json(r.value).ticket_id: (r.key, FeedbackEvent.model_validate_json(r.value))
              for r in records}
    key, confirmed = events["INC-7"]
    assert key == b"INC-7"
    assert (confirmed.corrected_category, confirmed.previous_category) == ("Access", "Access")
    assert confirmed.user == "alice" and confirmed.channel == "slack:#it-access" and confirmed.source == "slack"
    assert confirmed.model_version == "v1"
    _, picked = events["INC-8"]
    assert (picked.corrected_category, picked.previous_category) == ("Hardware", "Access")
    assert metrics.registry.get_sample_value("tickets_feedback_events_total") == 2
    for record in records:
        event = FeedbackEvent.model_validate_json(record.value)
        headers = assert_standard_headers(record, "feedback_event", SCHEMA_VERSION, "interactivity")
        assert headers["ce_id"] == event.event_id and headers["ce_subject"] == event.ticket_id


def test_unsigned_badly_signed_and_stale_requests_get_401_and_produce_nothing(kafka_bootstrap, kafka_topics):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    body = _payload(_confirm())
    tampered = _payload(_pick("Purchase"))
    requests = [
        (body, {"Content-Type": "application/x-www-form-urlencoded"}),                 # no headers
        (body, _signed(body, secret="not-the-secret")),                                # wrong secret
        (tampered, _signed(body)),                                                     # body changed after signing
        (body, _signed(body, age_s=6 * 60)),                                           # replayed 6 minutes later
    ]

    async def scenario():
        statuses, metrics = await _exchange(kafka_bootstrap, settings, requests)
        records = await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=0)
        return statuses, metrics, records

    statuses, metrics, records = asyncio.run(scenario())
    assert statuses == [401, 401, 401, 401]
    assert records == []
    rejected = {reason: metrics.registry.get_sample_value("tickets_slack_requests_rejected_total", {"reason": reason})
                for reason in ("missing_headers", "bad_signature", "stale")}
    assert rejected == {"missing_headers": 1, "bad_signature": 2, "stale": 1}
    assert metrics.registry.get_sample_value("tickets_feedback_events_total") == 0


def test_signed_but_unusable_payload_is_a_400(kafka_bootstrap, kafka_topics):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    no_context = _payload({"action_id": CONFIRM_ACTION, "block_id": "not-json", "value": "Access"})
    garbage = b"payload=%7Bnot json"
    statuses, _ = asyncio.run(_exchange(kafka_bootstrap, settings, [(no_context, _signed(no_context)),
                                                                    (garbage, _signed(garbage))]))
    assert statuses == [400, 400]


def test_a_replayed_signed_click_yields_one_feedback_event(kafka_bootstrap, kafka_topics):
    """Case 7: the same signed click re-sent (as captured, and re-signed later) becomes ONE FeedbackEvent."""
    from stream.slack.interactivity import click_key

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    body = _payload(_confirm())
    captured = _signed(body)
    requests = [(body, captured), (body, captured), (body, _signed(body, age_s=-2)), (body, _signed(body, age_s=-4))]

    async def scenario():
        statuses, metrics = await _exchange(kafka_bootstrap, settings, requests)
        records = await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=2, timeout_s=5)
        return statuses, metrics, records

    statuses, metrics, records = asyncio.run(scenario())
    assert statuses == [200, 200, 200, 200]  # Slack gets its ack; nothing is produced twice
    assert len(records) == 1
    event = FeedbackEvent.model_validate_json(records[0].value)
    assert event.event_id == click_key(CONFIRM_ACTION, MESSAGE_TS, "U123", ACTION_TS)
    assert event.at.timestamp() == pytest.approx(float(ACTION_TS))  # the click's time, not the time of receipt
    assert metrics.registry.get_sample_value("tickets_slack_requests_rejected_total", {"reason": "replay"}) == 3
    assert metrics.registry.get_sample_value("tickets_feedback_events_total") == 1


def test_a_replay_reaching_another_replica_is_the_same_event_and_the_sink_writes_one_row(
        kafka_bootstrap, kafka_topics, kafka_group_id, snowflake_env, snowflake_connection):
    """No shared memory between replicas (or across a restart): the deterministic event is what dedupes."""
    from stream.downstream.settings import SnowflakeSettings
    from stream.sink import metrics as sink_metrics
    from stream.sink.runner import SnowflakeSink
    from tests.fixtures.downstream import wait_until

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    body = _payload(_confirm())
    snowflake = SnowflakeSettings.from_env(snowflake_env | {"TICKETS_SINK_GROUP_ID": kafka_group_id("sink"),
                                                            "TICKETS_SINK_BATCH_INTERVAL_S": "0.3"})

    async def scenario():
        first, _ = await _exchange(kafka_bootstrap, settings, [(body, _signed(body))])
        second, _ = await _exchange(kafka_bootstrap, settings, [(body, _signed(body, age_s=-3))])  # a fresh replica
        records = await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=2)
        sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        await wait_until(lambda: task.done() or sink.metrics.registry.get_sample_value(
            "tickets_sink_rows_written_total", {"table": snowflake.table_feedback}) == 2, 30, what="the feedback rows")
        stop.set()
        await task
        return first + second, records

    statuses, records = asyncio.run(scenario())
    assert statuses == [200, 200] and len(records) == 2
    assert records[0].value == records[1].value  # byte for byte the same event
    rows = snowflake_connection.cursor().execute(
        f"SELECT TICKET_ID, CORRECTED_CATEGORY FROM {snowflake.table_feedback}").fetchall()
    assert rows == [("INC-7", "Access")]


def _form(payload) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


UNUSABLE = {
    "user is a string": _form(_block_actions(_confirm(), user="alice")),
    "user without id": _form(_block_actions(_confirm(), user={"username": "alice"})),
    "no actions": _form({k: v for k, v in _block_actions(_confirm()).items() if k != "actions"}),
    "actions not a list": _form(_block_actions(_confirm(), actions={"0": _confirm()})),
    "action not an object": _form(_block_actions(_confirm(), actions=["confirm_category"])),
    "action_id a number": _form(_block_actions(_confirm() | {"action_id": 7})),
    "value a list": _form(_block_actions(_confirm() | {"value": ["Access"]})),
    "value empty": _form(_block_actions(_confirm() | {"value": ""})),
    "no action_ts": _form(_block_actions({k: v for k, v in _confirm().items() if k != "action_ts"})),
    "action_ts not a time": _form(_block_actions(_confirm(action_ts="yesterday"))),
    "selected_option a string": _form(_block_actions(_pick("Hardware") | {"selected_option": "Hardware"})),
    "block_id not our context": _form(_block_actions(_confirm() | {"block_id": "not-json"})),
    "block_id a number": _form(_block_actions(_confirm() | {"block_id": 12})),
    "no message ts": _form({k: v for k, v in _block_actions(_confirm()).items() if k != "container"}),
    "channel a string": _form(_block_actions(_confirm(), channel="it-access")),
    "payload a list": _form([1, 2]),
    "payload not JSON": b"payload=%7Bnot json",
    "payload deeply nested": _form("[" * 100_000 + "]" * 100_000),
    "two payloads": _form(_block_actions(_confirm())) + b"&" + _form(_block_actions(_confirm())),
    "no payload field": b"other=1",
    "empty body": b"",
    "body not UTF-8": b"payload=\xff\xfe",
    "category with a lone surrogate": _form('{"type": "block_actions", "user": {"id": "U1"}, '
                                            '"container": {"message_ts": "1.2"}, "actions": [{"action_id": '
                                            '"confirm_category", "value": "\\ud800", "action_ts": "1.5", '
                                            '"block_id": "{\\"t\\": \\"T\\", \\"c\\": \\"A\\", \\"m\\": \\"v\\"}"}]}'),
}


def test_signed_but_unusable_payloads_are_a_400_with_the_reason(kafka_bootstrap, kafka_topics):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    answers: list[str] = []
    statuses, _ = asyncio.run(_exchange(kafka_bootstrap, settings, [(b, _signed(b)) for b in UNUSABLE.values()],
                                        answers))
    assert dict(zip(UNUSABLE, statuses)) == {name: 400 for name in UNUSABLE}
    for name, answer in zip(UNUSABLE, answers):
        assert answer.startswith("unusable payload: ") and len(answer) > len("unusable payload: "), name


def test_a_click_is_remembered_for_the_window_only_and_forgotten_when_its_event_failed():
    from stream.slack.interactivity import ReplayGuard

    now = [1000.0]
    guard = ReplayGuard(window_s=300, clock=lambda: now[0], max_keys=3)
    assert guard.claim("a") and not guard.claim("a")
    now[0] += 299
    assert not guard.claim("a")                     # still inside the signature window
    now[0] += 2
    assert guard.claim("a")                         # the window passed: a signed replay is stale by now anyway
    guard.release("a")
    assert guard.claim("a")                         # its event could not be produced: Slack's retry gets through
    for key in "bcd":
        assert guard.claim(key)
    assert guard.claim("a")                         # bounded: the oldest key made room
