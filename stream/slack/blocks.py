"""The Block Kit message for one classified ticket.

What a reader needs to act in one glance: the ticket (linked), a short
excerpt, the prediction with its confidence, the runner-up, the model, and
two ways to answer (confirm, or pick another category). The excerpt is
already PII-masked by the worker; we only shorten it (on a word boundary, so
a masked token is never cut into something that looks like data) and escape
it so ``<``, ``>`` and ``&`` in the text cannot become Slack links or mentions.
"""
from __future__ import annotations

import json
import logging
from typing import Iterable

log = logging.getLogger(__name__)

CONFIRM_ACTION = "confirm_category"
PICK_ACTION = "pick_category"
METADATA_EVENT_TYPE = "ticket_classified"
MAX_OPTIONS = 100        # Slack's limit for a static_select
MAX_BLOCK_ID = 255       # Slack's limit for block_id
MAX_OPTION_TEXT = 75     # Slack's limit for an option's text


def escape(text: str) -> str:
    """Slack mrkdwn escaping: the only three characters Slack asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _pct(p: float) -> str:
    return f"{p:.0%}"


def feedback_context(ticket_id: str, category: str, model_version: str) -> str:
    """What the interactivity endpoint needs to build a FeedbackEvent, carried in the block_id."""
    return json.dumps({"t": ticket_id, "c": category, "m": model_version}, separators=(",", ":"))


def build_message(event, *, channel: str, labels: Iterable[str], ticket_url_template: str,
                  excerpt_chars: int) -> dict:
    """``chat.postMessage`` arguments (channel, text, blocks, metadata) for a ``ClassifiedEvent``."""
    url = ticket_url_template.format(ticket_id=event.ticket_id)
    runner_up = event.top_k[1] if len(event.top_k) > 1 else None
    title = f"*<{url}|{escape(event.ticket_id)}>*"
    if event.subject:
        title += f"  ·  {escape(shorten(event.subject, 150))}"
    excerpt = escape(shorten(event.excerpt, excerpt_chars)) or "_(no text)_"

    blocks: list[dict] = []
    if event.needs_human:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f":raising_hand: *Needs a human*: the model is not sure "
            f"({_pct(event.confidence)} for {escape(event.category)}). Please pick the category.")}})
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n>{excerpt}"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Category*\n{escape(event.category)} ({_pct(event.confidence)})"},
            {"type": "mrkdwn", "text": "*Runner-up*\n" + (
                f"{escape(runner_up.category)} ({_pct(runner_up.probability)})" if runner_up else "—")},
            {"type": "mrkdwn", "text": f"*Model*\n`{escape(event.model_version)}`"},
            {"type": "mrkdwn", "text": f"*Source*\n{escape(event.source)}"
                                       + (f" · language `{escape(event.language)}`" if event.language else "")},
        ]},
    ]
    actions = _actions(event, labels)
    if actions:
        blocks.append(actions)

    text = escape(f"{event.ticket_id}: {event.category} ({_pct(event.confidence)})")
    if event.needs_human:
        text = f"Needs a human — {text}"
    return {
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "unfurl_links": False,
        "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {
            "event_id": event.event_id, "ticket_id": event.ticket_id, "model_version": event.model_version}},
    }


def _actions(event, labels: Iterable[str]) -> dict | None:
    block_id = feedback_context(event.ticket_id, event.category, event.model_version)
    if len(block_id) > MAX_BLOCK_ID:
        log.warning("ticket %s: id too long for Slack's interactive blocks; posting without buttons", event.ticket_id)
        return None
    choices = list(dict.fromkeys([*labels, *(k.category for k in event.top_k)]))[:MAX_OPTIONS]
    elements: list[dict] = [{
        "type": "button", "action_id": CONFIRM_ACTION, "style": "primary", "value": event.category,
        "text": {"type": "plain_text", "text": shorten(f"✓ {event.category}", MAX_OPTION_TEXT)},
    }]
    if choices:
        elements.append({
            "type": "static_select", "action_id": PICK_ACTION,
            "placeholder": {"type": "plain_text", "text": "Another category…"},
            "options": [{"text": {"type": "plain_text", "text": shorten(c, MAX_OPTION_TEXT)}, "value": c[:150]}
                        for c in choices],
        })
    return {"type": "actions", "block_id": block_id, "elements": elements}
