"""The Slack interactivity endpoint: button clicks and menu picks become FeedbackEvents.

Slack POSTs ``payload=<json>`` (form-encoded) signed with the app's signing
secret. The signature is checked on the raw body before anything is parsed;
refused requests get 401 and are counted by reason. A genuine
``block_actions`` payload from one of our messages yields one FeedbackEvent
per action on ``tickets.feedback``, keyed by ticket id, produced before we
answer 200 (so Slack retries if we could not produce). On a multi-label
ticket the *Add a label…* / *Remove a label…* menus yield label edits
(FeedbackEvent version 2, ``labels_added``/``labels_removed``). The clicked
message is then rewritten in the background (:mod:`stream.slack.updates`):
Slack's 3-second window covers the answer, not the ``chat.update``.

A signed request can be replayed for as long as its timestamp is fresh, so
each action is identified by the click itself (action id, message ts, user,
action ts): the key is remembered for the signature window and a replay is
answered 200 without a second event. The event is deterministic too: its
``at`` is the action's own ``action_ts`` and its ``event_id`` a hash of the
key, so even a replay that reaches another replica (or this one after a
restart) produces the same event, which the sink's MERGE writes once.
Whatever the shape of a signed payload, a payload we cannot use is a 400
with the reason, never a 500.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from datetime import datetime, timezone
from urllib.parse import parse_qs

from aiohttp import web
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST

from stream.config import KafkaSettings
from stream.kafka.dlq import failure_reason
from stream.kafka.headers import event_headers
from stream.downstream.settings import SlackSettings
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION
from stream.slack.label_blocks import ADD_LABEL_ACTION, REMOVE_LABEL_ACTION
from stream.slack.exceptions import BadInteraction
from stream.slack.metrics import SlackMetrics
from stream.slack.signing import rejection
from stream.slack.updates import MessageUpdates

log = logging.getLogger(__name__)
PATH = "/slack/interactivity"
REPLAY = "replay"  # the requests_rejected reason of a replayed click
_SLACK_TS = re.compile(r"^\d{1,10}(\.\d{1,6})?$")  # Slack's "1700000000.123456"
#: Most click keys remembered at once: far above any real click rate over the window.
MAX_REMEMBERED = 100_000


def _field(obj: dict, key: str, what: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadInteraction(f"{what}.{key} must be a non-empty string, got {type(value).__name__}")
    return value


def _object(value, what: str, *, required: bool = True) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadInteraction(f"{what} must be an object, got {type(value).__name__}")
    return value


def _slack_time(ts: str, what: str) -> datetime:
    if not _SLACK_TS.match(ts):
        raise BadInteraction(f"{what} {ts[:40]!r} is not a Slack timestamp")
    return datetime.fromtimestamp(float(ts), timezone.utc)


def click_key(action_id: str, message_ts: str, user_id: str, action_ts: str) -> str:
    """The idempotency key of one click: the same for the click and for any replay of it."""
    return hashlib.sha256(f"{action_id}|{message_ts}|{user_id}|{action_ts}".encode()).hexdigest()[:32]


def feedback_from_payload(payload) -> list:
    """The FeedbackEvents a ``block_actions`` payload asks for (none for other types).

    Raises :class:`BadInteraction` naming what is wrong with any other shape.
    """
    from schemas.models import FeedbackEvent

    payload = _object(payload, "payload")
    if payload.get("type") != "block_actions":
        return []
    user = _object(payload.get("user"), "user")
    user_id = _field(user, "id", "user")
    who = _field(user, "username", "user", required=False) or _field(user, "name", "user", required=False) or user_id
    channel = _object(payload.get("channel"), "channel", required=False)
    name = _field(channel, "name", "channel", required=False)
    channel_id = _field(channel, "id", "channel", required=False)
    where = f"slack:#{name}" if name else f"slack:{channel_id or 'unknown'}"
    container = _object(payload.get("container"), "container", required=False)
    message = _object(payload.get("message"), "message", required=False)
    message_ts = (_field(container, "message_ts", "container", required=False)
                  or _field(message, "ts", "message", required=False))
    if message_ts is None:
        raise BadInteraction("the payload names no message (container.message_ts or message.ts)")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise BadInteraction("actions must be a non-empty list")
    events = []
    for i, action in enumerate(actions):
        action = _object(action, f"actions[{i}]")
        action_id = _field(action, "action_id", f"actions[{i}]")
        if action_id == CONFIRM_ACTION:
            chosen = _field(action, "value", f"actions[{i}]")
        elif action_id in (PICK_ACTION, ADD_LABEL_ACTION, REMOVE_LABEL_ACTION):
            chosen = _field(_object(action.get("selected_option"), f"actions[{i}].selected_option"),
                            "value", f"actions[{i}].selected_option")
        else:
            continue
        action_ts = _field(action, "action_ts", f"actions[{i}]")
        try:
            context = json.loads(_field(action, "block_id", f"actions[{i}]"))
            ticket_id, predicted, model_version = context["t"], context["c"], context["m"]
        except (ValueError, KeyError, TypeError):
            raise BadInteraction(f"action {action_id} has no ticket context in its block_id") from None
        # a label edit corrects no category (corrected = previous): it is a version-2 event; a category
        # correction stays version 1, so consumers that know only version 1 keep reading it
        edit = {"labels_added": [chosen]} if action_id == ADD_LABEL_ACTION else \
            {"labels_removed": [chosen]} if action_id == REMOVE_LABEL_ACTION else {}
        events.append(FeedbackEvent(
            schema_version="2" if edit else "1", event_id=click_key(action_id, message_ts, user_id, action_ts),
            ticket_id=ticket_id, corrected_category=predicted if edit else chosen, previous_category=predicted,
            model_version=model_version, user=who, channel=where, source="slack",
            at=_slack_time(action_ts, f"actions[{i}].action_ts"), **edit,
        ))
    return events


class ReplayGuard:
    """Click keys seen within the signature window (one process; the event id covers the rest)."""

    def __init__(self, window_s: float, clock=time.monotonic, max_keys: int = MAX_REMEMBERED):
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> when first seen, oldest first

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen within the window; False for a replay."""
        now = self._clock()
        while self._seen and (next(iter(self._seen.values())) < now - self.window_s
                              or len(self._seen) >= self._max_keys):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def release(self, key: str) -> None:
        """Forget ``key`` (its event could not be produced: Slack's retry must get through)."""
        self._seen.pop(key, None)


def parse_request(body: bytes) -> list:
    """The FeedbackEvents of a signed form body; :class:`BadInteraction` for anything unusable."""
    return read_request(body)[1]


def read_request(body: bytes) -> tuple[object, list]:
    """``(payload, FeedbackEvents)`` of a signed form body; :class:`BadInteraction` for anything unusable."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInteraction(f"the body is not a form: {type(exc).__name__}") from None
    values = form.get("payload") or []
    if len(values) != 1:
        raise BadInteraction(f"expected one payload field, got {len(values)}")
    try:
        payload = json.loads(values[0])
    except (ValueError, RecursionError) as exc:
        raise BadInteraction(f"payload is not JSON: {type(exc).__name__}") from None
    try:
        events = feedback_from_payload(payload)
        for event in events:
            event.to_json_bytes()  # text that cannot be encoded (a lone surrogate) fails here, not after the 200
        return payload, events
    except BadInteraction:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a FeedbackEvent field out of contract: the client's problem
        raise BadInteraction(failure_reason(exc)[1]) from None


def create_app(slack: SlackSettings, kafka: KafkaSettings, producer, metrics: SlackMetrics,
               updates: MessageUpdates | None = None) -> web.Application:
    """The aiohttp app; ``producer`` is a started ``AIOKafkaProducer`` (owned by the caller).

    With ``updates``, each recorded click rewrites the clicked message after the 200 has gone out.
    """
    replays = ReplayGuard(slack.replay_window_s)

    async def interactivity(request: web.Request) -> web.Response:
        body = await request.read()
        reason = rejection(slack.signing_secret.get_secret_value(), request.headers.get("X-Slack-Request-Timestamp"),
                           request.headers.get("X-Slack-Signature"), body, window_s=slack.replay_window_s)
        if reason is not None:
            metrics.requests_rejected.labels(reason).inc()
            log.warning("refused an interactivity request", extra={"remote": request.remote, "reason": reason})
            return web.Response(status=401, text=reason)
        try:
            payload, events = read_request(body)
        except BadInteraction as exc:
            log.warning("unusable interactivity payload", extra={"error": str(exc)[:300]})
            return web.Response(status=400, text=f"unusable payload: {exc}"[:1000])
        recorded = []
        for event in events:
            if not replays.claim(event.event_id):
                metrics.requests_rejected.labels(REPLAY).inc()
                log.warning("replayed click ignored", extra={"event_id": event.event_id, "ticket_id": event.ticket_id})
                continue
            try:
                value = event.to_json_bytes()
                await producer.send_and_wait(kafka.topic_feedback, key=event.ticket_id.encode("utf-8", "replace"),
                                             value=value, headers=event_headers(event, value, component="interactivity"))
            except KafkaError as exc:
                replays.release(event.event_id)
                log.error("could not produce feedback", extra={"ticket_id": event.ticket_id, "error": str(exc)})
                return web.Response(status=503, text="feedback topic unavailable, retry")
            metrics.feedback_events.inc()
            recorded.append(event)
            log.info("feedback", extra={"ticket_id": event.ticket_id, "previous_category": event.previous_category,
                                     "corrected_category": event.corrected_category, "user": event.user,
                                     "labels_added": event.labels_added, "labels_removed": event.labels_removed})
        if recorded and updates is not None:
            updates.schedule(payload, recorded)  # runs after this 200: Slack's 3-second window is for the answer
        return web.Response(status=200)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=1024 * 1024)
    if updates is not None:
        async def drain_updates(_app: web.Application) -> None:
            await updates.drain()

        app.on_shutdown.append(drain_updates)
    app.router.add_post(PATH, interactivity)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app
