"""The Slack interactivity endpoint: button clicks and menu picks become FeedbackEvents.

Slack POSTs ``payload=<json>`` (form-encoded) signed with the app's signing
secret. The signature is checked on the raw body before anything is parsed;
refused requests get 401 and are counted by reason. A genuine
``block_actions`` payload from one of our messages yields one FeedbackEvent on
``tickets.feedback``, keyed by ticket id, produced before we answer 200 (so
Slack retries if we could not produce).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from urllib.parse import parse_qs

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from stream.config import KafkaSettings
from stream.downstream.settings import SlackSettings
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION
from stream.slack.exceptions import BadInteraction
from stream.slack.metrics import SlackMetrics
from stream.slack.signing import rejection

log = logging.getLogger(__name__)
PATH = "/slack/interactivity"


def feedback_from_payload(payload: dict, now: datetime | None = None) -> list:
    """The FeedbackEvents a ``block_actions`` payload asks for (none for other actions)."""
    from schemas.models import FeedbackEvent

    if payload.get("type") != "block_actions":
        return []
    user = payload.get("user") or {}
    who = user.get("username") or user.get("name") or user.get("id")
    channel = payload.get("channel") or {}
    where = f"slack:#{channel['name']}" if channel.get("name") else f"slack:{channel.get('id', 'unknown')}"
    if not who:
        raise BadInteraction("the payload names no user")
    events = []
    for action in payload.get("actions") or []:
        if action.get("action_id") == CONFIRM_ACTION:
            chosen = action.get("value")
        elif action.get("action_id") == PICK_ACTION:
            chosen = (action.get("selected_option") or {}).get("value")
        else:
            continue
        try:
            context = json.loads(action.get("block_id") or "")
            ticket_id, predicted, model_version = context["t"], context["c"], context["m"]
        except (ValueError, KeyError, TypeError):
            raise BadInteraction(f"action {action.get('action_id')} has no ticket context in its block_id") from None
        if not chosen:
            raise BadInteraction(f"action {action.get('action_id')} carries no category")
        events.append(FeedbackEvent(
            schema_version="1", ticket_id=ticket_id, corrected_category=chosen, previous_category=predicted,
            model_version=model_version, user=who, channel=where, source="slack",
            at=now or datetime.now(timezone.utc),
        ))
    return events


def create_app(slack: SlackSettings, kafka: KafkaSettings, producer, metrics: SlackMetrics) -> web.Application:
    """The aiohttp app; ``producer`` is a started ``AIOKafkaProducer`` (owned by the caller)."""

    async def interactivity(request: web.Request) -> web.Response:
        body = await request.read()
        reason = rejection(slack.signing_secret, request.headers.get("X-Slack-Request-Timestamp"),
                           request.headers.get("X-Slack-Signature"), body, window_s=slack.replay_window_s)
        if reason is not None:
            metrics.requests_rejected.labels(reason).inc()
            log.warning("refused an interactivity request from %s: %s", request.remote, reason)
            return web.Response(status=401, text=reason)
        try:
            raw = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload", [""])[0]
            events = feedback_from_payload(json.loads(raw))
        except (ValueError, UnicodeDecodeError, BadInteraction) as exc:
            log.warning("unusable interactivity payload: %s", exc)
            return web.Response(status=400, text="unusable payload")
        for event in events:
            await producer.send_and_wait(kafka.topic_feedback, key=event.ticket_id.encode(),
                                         value=event.model_dump_json().encode())
            metrics.feedback_events.inc()
            log.info("feedback: %s %s → %s by %s", event.ticket_id, event.previous_category,
                     event.corrected_category, event.user)
        return web.Response(status=200)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(PATH, interactivity)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app
