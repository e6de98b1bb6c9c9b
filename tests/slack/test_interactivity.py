"""The interactivity endpoint over HTTP: signed clicks become FeedbackEvents on the real broker."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer

from schemas.models import FeedbackEvent
from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, feedback_context
from stream.slack.interactivity import PATH, create_app
from stream.slack.signing import sign
from tests.fixtures.downstream import consume_all, settings_for

SECRET = "test-signing-secret"


def _payload(action: dict) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": "alice"},
        "channel": {"id": "C0ACCESS", "name": "it-access"},
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _confirm() -> dict:
    return {"action_id": CONFIRM_ACTION, "block_id": feedback_context("INC-7", "Access", "v1"), "value": "Access"}


def _pick(category: str) -> dict:
    return {"action_id": PICK_ACTION, "block_id": feedback_context("INC-8", "Access", "v1"),
            "selected_option": {"value": category, "text": {"type": "plain_text", "text": category}}}


def _signed(body: bytes, secret: str = SECRET, age_s: int = 0) -> dict:
    ts = str(int(time.time()) - age_s)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(secret, ts, body),
            "Content-Type": "application/x-www-form-urlencoded"}


async def _exchange(bootstrap: str, settings, requests: list[tuple[bytes, dict]]):
    """Serve the endpoint, send ``requests``, return (statuses, metrics)."""
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
