"""The Block Kit message for one classified ticket.

What a reader needs to act in one glance: the ticket (linked), a short
excerpt, the prediction with its confidence, the runner-up, the model, and
two ways to answer (confirm, or pick another category). The excerpt is
already PII-masked by the worker; we only shorten it (on a word boundary, so
a masked token is never cut into something that looks like data).

Every field comes from a ticket, so every field is hostile until escaped:
text that reaches mrkdwn goes through :func:`mrkdwn` (``&``, ``<``, ``>``
escaped, so ``<!channel>``, ``<@U…>`` or ``<https://…|…>`` in a subject stay
text; bare ``@channel``/``@here``/``@everyone`` broken by a word joiner), and
the ticket id is URL-encoded into the link, so no field can ping a channel
or carry a link of its own.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Iterable
from urllib.parse import quote

log = logging.getLogger(__name__)

CONFIRM_ACTION = "confirm_category"
PICK_ACTION = "pick_category"
METADATA_EVENT_TYPE = "ticket_classified"
MAX_OPTIONS = 100        # Slack's limit for a static_select
MAX_BLOCK_ID = 255       # Slack's limit for block_id
MAX_OPTION_TEXT = 75     # Slack's limit for an option's text


# a broadcast Slack may still notify for when written bare (e.g. in a client that parses names)
_BROADCAST = re.compile(r"([@\uff20])(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible, and breaks the mention


def escape(text: str) -> str:
    """Slack mrkdwn escaping: the only three characters Slack asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """``text`` safe inside mrkdwn: escaped (no links, no ``<!…>``/``<@…>`` mentions), broadcasts broken."""
    return _BROADCAST.sub("\\1" + WORD_JOINER, escape(text))


def ticket_url(template: str, ticket_id: str) -> str:
    """The ticket's link target: the id URL-encoded, the result safe inside ``<url|label>``."""
    url = template.format(ticket_id=quote(ticket_id, safe=""))
    return escape(url).replace("|", "%7C")


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


def _evidence(event, template: str) -> list[dict]:
    from .evidence_blocks import evidence_blocks  # it builds on the escaping helpers above

    return evidence_blocks(event, template)


def build_message(event, *, channel: str, labels: Iterable[str], ticket_url_template: str,
                  excerpt_chars: int) -> dict:
    """``chat.postMessage`` arguments (channel, text, blocks, metadata) for a ``ClassifiedEvent``."""
    url = ticket_url(ticket_url_template, event.ticket_id)
    runner_up = event.top_k[1] if len(event.top_k) > 1 else None
    title = f"*<{url}|{mrkdwn(event.ticket_id)}>*"
    if event.subject:
        title += f"  ·  {mrkdwn(shorten(event.subject, 150))}"
    excerpt = mrkdwn(shorten(event.excerpt, excerpt_chars)) or "_(no text)_"

    blocks: list[dict] = []
    if event.needs_human:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f":raising_hand: *Needs a human*: the model is not sure "
            f"({_pct(event.confidence)} for {mrkdwn(event.category)}). Please pick the category.")}})
    if event.labels is not None:  # a multi-label answer: its set says more than a runner-up
        from .label_blocks import labels_field

        second = labels_field(event)
    else:
        second = {"type": "mrkdwn", "text": "*Runner-up*\n" + (
            f"{mrkdwn(runner_up.category)} ({_pct(runner_up.probability)})" if runner_up else "—")}
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n>{excerpt}"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Category*\n{mrkdwn(event.category)} ({_pct(event.confidence)})"},
            second,
            {"type": "mrkdwn", "text": f"*Model*\n`{mrkdwn(event.model_version)}`"},
            {"type": "mrkdwn", "text": f"*Source*\n{mrkdwn(event.source)}"
                                       + (f" · language `{mrkdwn(event.language)}`" if event.language else "")},
        ]},
    ]
    blocks += _evidence(event, ticket_url_template)
    labels = list(labels)
    blocks += [block for block in (_actions(event, labels), _label_actions(event, labels)) if block]

    text = mrkdwn(f"{event.ticket_id}: {event.category} ({_pct(event.confidence)})")
    if event.labels:
        text = mrkdwn(f"{event.ticket_id}: " + ", ".join(
            f"{item.label} ({_pct(item.probability)})" for item in event.labels[:5]))
    if event.needs_human:
        text = f"Needs a human — {text}"
    return {
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {
            "event_id": event.event_id, "ticket_id": event.ticket_id, "model_version": event.model_version}},
    }


def _label_actions(event, labels: list[str]) -> dict | None:
    """The menus that add or remove labels, for a multi-label answer only."""
    if event.labels is None:
        return None
    from .label_blocks import label_actions, label_context

    block_id = label_context(event.ticket_id, event.category, event.model_version)
    return label_actions(event, labels, block_id) if len(block_id) <= MAX_BLOCK_ID else None


def _actions(event, labels: Iterable[str]) -> dict | None:
    block_id = feedback_context(event.ticket_id, event.category, event.model_version)
    if len(block_id) > MAX_BLOCK_ID:
        log.warning("ticket id too long for Slack's interactive blocks; posting without buttons",
                    extra={"ticket_id": event.ticket_id})
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
