"""After a click: the message the user clicked says who answered, and what; its controls are gone.

Slack wants the interactivity request answered within 3 seconds, so the
endpoint answers as soon as the FeedbackEvent is on the topic and calls
``chat.update`` afterwards, in the background (:meth:`MessageUpdates.schedule`).
The update rebuilds the message from the blocks Slack sent with the click:
the actions block that was clicked is replaced by one context line
("✏️ <@U…> corrected it to *Hardware* (model: Access)"), so nobody answers
twice and the channel sees the outcome. The message's metadata (the event id
the notifier's dedupe looks for) is kept: ``chat.update`` leaves metadata
alone when none is passed. A failed update is logged and counted, never
retried into the next click: the feedback is already recorded.
"""
from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from stream.slack.blocks import mrkdwn, shorten
from stream.slack.metrics import SlackMetrics

log = logging.getLogger(__name__)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")  # a Slack user id: safe to render as a mention
#: How long shutdown waits for updates still in flight.
DRAIN_S = 10.0


def who(user: dict) -> str:
    """A mention of the clicking user when Slack gave a well-formed id, else their escaped name."""
    user_id = user.get("id") if isinstance(user, dict) else None
    if isinstance(user_id, str) and _USER_ID.match(user_id):
        return f"<@{user_id}>"
    name = (user.get("username") or user.get("name")) if isinstance(user, dict) else None
    return mrkdwn(str(name or "someone"))


def outcome_line(event, user: dict) -> str:
    """One mrkdwn line saying who answered and with what."""
    chosen, predicted = mrkdwn(shorten(event.corrected_category, 75)), mrkdwn(shorten(event.previous_category, 75))
    if event.corrected_category == event.previous_category:
        return f":white_check_mark: {who(user)} confirmed *{chosen}*"
    return f":pencil2: {who(user)} corrected it to *{chosen}* (model: {predicted})"


def outcome_text(event, user: dict) -> str:
    """The same outcome for the message's plain-text fallback (notifications, screen readers)."""
    chosen = mrkdwn(shorten(event.corrected_category, 75))
    if event.corrected_category == event.previous_category:
        return f"confirmed by {who(user)}"
    return f"corrected to {chosen} by {who(user)}"


def answered_blocks(blocks: list, block_ids: set[str], line: str) -> list:
    """``blocks`` with each clicked actions block replaced by the outcome ``line`` (a context block)."""
    answered = {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}
    out, replaced = [], False
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "actions" and block.get("block_id") in block_ids:
            out.append(answered)
            replaced = True
        else:
            out.append(block)
    if not replaced:  # a message already answered (no controls left): add the newer answer
        out.append(answered)
    return out


def update_arguments(payload: dict, events: list) -> dict | None:
    """``chat.update`` kwargs for a click, or None when the payload does not carry the message to rebuild."""
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    channel_id = container.get("channel_id") or channel.get("id")
    ts = container.get("message_ts") or message.get("ts")
    blocks = message.get("blocks")
    if not (events and isinstance(channel_id, str) and isinstance(ts, str) and isinstance(blocks, list)):
        return None
    block_ids = {a.get("block_id") for a in payload.get("actions") or [] if isinstance(a, dict)}
    user = payload.get("user") or {}
    text = str(message.get("text") or "")
    return {"channel": channel_id, "ts": ts,
            "blocks": answered_blocks(blocks, block_ids, outcome_line(events[-1], user)),
            "text": shorten(f"{text} — {outcome_text(events[-1], user)}".strip(" —"), 3000)}


class MessageUpdates:
    """Background ``chat.update`` calls, awaited on shutdown so none is cut off."""

    def __init__(self, client: AsyncWebClient, metrics: SlackMetrics):
        self._client = client
        self._metrics = metrics
        self._pending: set[asyncio.Task] = set()

    def schedule(self, payload: dict, events: list) -> None:
        """Update the clicked message after the response has gone out."""
        arguments = update_arguments(payload, events)
        if arguments is None:
            self._metrics.message_updates.labels("skipped").inc()
            log.info("click carries no message to update", extra={"ticket_id": events[-1].ticket_id if events else None})
            return
        task = asyncio.get_running_loop().create_task(self._update(arguments))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _update(self, arguments: dict) -> None:
        try:
            await self._client.chat_update(**arguments)
        except SlackApiError as exc:
            error = (exc.response.data or {}).get("error") if isinstance(exc.response.data, dict) else None
            self._metrics.errors.labels(error or f"http_{exc.response.status_code}").inc()
            self._metrics.message_updates.labels("failed").inc()
            log.warning("could not update the clicked message", extra={"channel": arguments["channel"],
                                                                       "ts": arguments["ts"], "error": error})
            return
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            self._metrics.errors.labels("connection").inc()
            self._metrics.message_updates.labels("failed").inc()
            log.warning("could not update the clicked message", extra={"channel": arguments["channel"],
                                                                       "ts": arguments["ts"], "error": str(exc)})
            return
        self._metrics.message_updates.labels("updated").inc()
        log.info("clicked message updated", extra={"channel": arguments["channel"], "ts": arguments["ts"]})

    async def drain(self, timeout_s: float = DRAIN_S) -> None:
        """Wait for the updates in flight (shutdown)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)

    async def close(self) -> None:
        await self.drain()
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()
