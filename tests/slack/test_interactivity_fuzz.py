"""Property test of the interactivity endpoint: any correctly signed body gets 200 or a 400 with the reason.

The real aiohttp server, the real Slack signing and a real producer on the
session's broker; hypothesis sends arbitrary form bodies, arbitrary payload
JSON and mutated genuine ``block_actions`` payloads.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer
from hypothesis import given, strategies as st

from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, feedback_context
from stream.slack.interactivity import PATH, create_app
from tests.fixtures.downstream import settings_for
from tests.fixtures.hostile_records import FUZZ, any_json, field_values
from tests.slack.signed_requests import SECRET, signed_headers

GENUINE = {
    "type": "block_actions",
    "user": {"id": "U123", "username": "alice"},
    "channel": {"id": "C0ACCESS", "name": "it-access"},
    "container": {"type": "message", "message_ts": "1764660000.000100"},
    "actions": [{"action_id": CONFIRM_ACTION, "block_id": feedback_context("INC-7", "Access", "v1"),
                 "value": "Access", "action_ts": "1764660123.456789"},
                {"action_id": PICK_ACTION, "block_id": feedback_context("INC-8", "Access", "v1"),
                 "action_ts": "1764660124.000001", "selected_option": {"value": "Hardware"}}],
}
_DELETE = object()
# where a mutation lands: the payload, its user/channel/container, or its first action
_PLACES = {(): sorted(GENUINE), ("user",): ["id", "username", "name"], ("channel",): ["id", "name"],
           ("container",): ["message_ts"], ("actions", 0): ["action_id", "block_id", "value", "action_ts",
                                                             "selected_option"]}
_mutation = st.sampled_from(sorted(_PLACES)).flatmap(
    lambda place: st.tuples(st.just(place), st.sampled_from(_PLACES[place]), field_values | st.just(_DELETE)))


def _mutate(changes) -> dict:
    doc = json.loads(json.dumps(GENUINE))
    for place, key, value in changes:
        target = doc
        for step in place:
            if isinstance(target, dict):
                target = target.get(step)
            elif isinstance(target, list) and isinstance(step, int) and step < len(target):
                target = target[step]
            else:
                target = None
        if isinstance(target, dict):
            if value is _DELETE:
                target.pop(key, None)
            else:
                target[key] = value
    return doc


def _form(payload) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


bodies = st.one_of(
    st.binary(max_size=2000),
    any_json.map(_form),
    st.lists(_mutation, min_size=1, max_size=3).map(_mutate).map(_form),
)


def test_any_signed_body_gets_200_or_a_400_with_the_reason(kafka_bootstrap, kafka_topics):
    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    slack = SlackSettings.from_env({"TICKETS_SLACK_SIGNING_SECRET": SECRET})
    aio = asyncio.new_event_loop()

    async def start():
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        runner = web.AppRunner(create_app(slack, settings.kafka, producer, slack_metrics.create()))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return producer, runner, aiohttp.ClientSession(), f"http://{host}:{port}{PATH}"

    producer, runner, session, url = aio.run_until_complete(start())

    async def post(body: bytes) -> tuple[int, str]:
        async with session.post(url, data=body, headers=signed_headers(body)) as response:
            return response.status, await response.text()

    @FUZZ
    @given(bodies)
    def check(body: bytes) -> None:
        status, text = aio.run_until_complete(post(body))
        assert status in (200, 400), (status, text)
        if status == 400:
            assert text.startswith("unusable payload: ") and len(text) > len("unusable payload: ")

    try:
        assert aio.run_until_complete(post(_form(GENUINE)))[0] == 200  # the genuine click works
        check()
    finally:
        async def stop():
            await session.close()
            await runner.cleanup()
            await producer.stop()

        aio.run_until_complete(stop())
        aio.close()
