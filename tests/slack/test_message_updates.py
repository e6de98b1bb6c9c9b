"""A click rewrites the message it was made on (chat.update on the Slack double), after a fast answer."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer
from slack_sdk.web.async_client import AsyncWebClient

from schemas.models import ClassifiedEvent
from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, build_message
from stream.slack.interactivity import PATH, create_app
from stream.slack.updates import MessageUpdates, answered_blocks
from tests.fixtures.downstream import classified_event, consume_all, settings_for, wait_until
from tests.fixtures.slack import TOKEN
from tests.slack.signed_requests import SECRET, signed_headers

LABELS = ("Access", "Hardware", "Storage")


async def _post_original(fake_slack, ticket_id: str) -> dict:
    """Post the notifier's message for a ticket to the double; returns Slack's stored message."""
    event = ClassifiedEvent.model_validate(classified_event(ticket_id, category="Access"))
    message = build_message(event, channel="#it-access", labels=LABELS,
                            ticket_url_template="https://helpdesk.example.com/t/{ticket_id}", excerpt_chars=200)
    client = AsyncWebClient(token=TOKEN, base_url=fake_slack.url)
    response = await client.chat_postMessage(**message)
    return fake_slack.message(response["channel"], response["ts"])


def _click(original: dict, action_id: str, value: str, user_id: str = "U123ALICE") -> bytes:
    """The block_actions payload Slack sends for a click on ``original`` (as documented: container, message)."""
    actions = next(b for b in original["blocks"] if b["type"] == "actions")
    action = {"action_id": action_id, "block_id": actions["block_id"], "action_ts": f"{time.time():.6f}"}
    if action_id == PICK_ACTION:
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": value}}
    else:
        action["value"] = value
    payload = {
        "type": "block_actions", "user": {"id": user_id, "username": "alice"},
        "container": {"type": "message", "message_ts": original["ts"], "channel_id": original["channel"]},
        "channel": {"id": original["channel"], "name": "it-access"},
        "message": {"ts": original["ts"], "text": original["text"], "blocks": original["blocks"]},
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def _serve(bootstrap, settings, metrics, fake_slack):
    slack = SlackSettings.from_env({"TICKETS_SLACK_SIGNING_SECRET": SECRET})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    updates = MessageUpdates(AsyncWebClient(token=TOKEN, base_url=fake_slack.url), metrics)
    runner = web.AppRunner(create_app(slack, settings.kafka, producer, metrics, updates))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}{PATH}", runner, producer, updates


def test_a_correction_updates_the_original_message_after_a_fast_answer(kafka_bootstrap, kafka_topics, fake_slack):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    metrics = slack_metrics.create()
    fake_slack.slow_down("chat.update", 4.0)  # slower than Slack's 3 s: the answer must not wait for it

    async def scenario():
        original = await _post_original(fake_slack, "INC-UPD-1")
        url, runner, producer, updates = await _serve(kafka_bootstrap, settings, metrics, fake_slack)
        body = _click(original, PICK_ACTION, "Hardware")
        try:
            async with aiohttp.ClientSession() as session:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=signed_headers(body)) as response:
                    status, answered_in = response.status, time.perf_counter() - started
            assert fake_slack.message(original["channel"], original["ts"])["blocks"] == original["blocks"]
            await wait_until(lambda: metrics.registry.get_sample_value(
                "tickets_slack_message_updates_total", {"outcome": "updated"}), 15, what="the chat.update")
        finally:
            await runner.cleanup()
            await updates.close()
            await producer.stop()
        records = await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=1)
        return original, status, answered_in, records

    original, status, answered_in, records = asyncio.run(scenario())
    assert status == 200 and answered_in < 3.0, answered_in
    assert len(records) == 1 and json.loads(records[0].value)["corrected_category"] == "Hardware"
    updated = fake_slack.message(original["channel"], original["ts"])
    assert not [b for b in updated["blocks"] if b["type"] == "actions"], "the buttons are still there"
    lines = [e["text"] for b in updated["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any("<@U123ALICE> corrected it to *Hardware* (model: Access)" in line for line in lines), lines
    assert updated["metadata"] == original["metadata"], "the dedupe metadata must survive the update"
    assert updated["text"] == f"{original['text']} — corrected to Hardware by <@U123ALICE>"
    assert original["blocks"][-1]["type"] == "actions" and updated["blocks"][:-1] == original["blocks"][:-1]
    call = fake_slack.calls_to("chat.update")[-1]
    assert call.params["channel"] == original["channel"] and call.params["ts"] == original["ts"]


def test_a_confirmation_says_who_confirmed_and_a_vanished_message_is_counted_not_fatal(
        kafka_bootstrap, kafka_topics, fake_slack):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    metrics = slack_metrics.create()

    async def scenario():
        original = await _post_original(fake_slack, "INC-UPD-2")
        gone = dict(original, ts="1700000000.000001")  # a message Slack no longer has
        url, runner, producer, updates = await _serve(kafka_bootstrap, settings, metrics, fake_slack)
        statuses = []
        try:
            async with aiohttp.ClientSession() as session:
                for body in (_click(original, CONFIRM_ACTION, "Access"), _click(gone, CONFIRM_ACTION, "Access")):
                    async with session.post(url, data=body, headers=signed_headers(body)) as response:
                        statuses.append(response.status)
            await updates.drain()
        finally:
            await runner.cleanup()
            await updates.close()
            await producer.stop()
        return original, statuses

    original, statuses = asyncio.run(scenario())
    assert statuses == [200, 200]
    lines = [e["text"] for b in fake_slack.message(original["channel"], original["ts"])["blocks"]
             if b["type"] == "context" for e in b["elements"]]
    assert any("<@U123ALICE> confirmed *Access*" in line for line in lines), lines
    sample = metrics.registry.get_sample_value
    assert sample("tickets_slack_message_updates_total", {"outcome": "updated"}) == 1
    assert sample("tickets_slack_message_updates_total", {"outcome": "failed"}) == 1
    assert sample("tickets_slack_errors_total", {"error": "message_not_found"}) == 1


def test_answered_blocks_replace_only_the_clicked_actions_and_escape_names():
    from stream.slack.updates import who

    blocks = [{"type": "section"}, {"type": "actions", "block_id": "a"}, {"type": "actions", "block_id": "b"}]
    out = answered_blocks(blocks, {"a"}, "done")
    assert out[0] == blocks[0] and out[2] == blocks[2] and out[1]["type"] == "context"
    assert who({"id": "not an id <!channel>", "username": "<!channel>"}) == "&lt;!channel&gt;"
    assert who({"id": "U123ALICE"}) == "<@U123ALICE>"
