"""The evidence line(s) of a Slack message: similar past tickets and the words that decided.

One context block, at most two small lines, so a confident ticket stays a
glance: "Similar: #4711 Access 0.91 · #3920 Storage 0.87 …" (each id linked
with the configured ticket URL) and "Words: share · full · save files". On a
*needs a human* ticket the closest neighbour's excerpt is added, since that is
where a person decides. Every value came from a ticket (the neighbours' ids
and excerpts from training data), so each is escaped like the rest of the
message (see :mod:`stream.slack.blocks`).
"""
from __future__ import annotations

from .blocks import mrkdwn, shorten, ticket_url

# Bounds that keep each line under Slack's 3,000 characters per context element even when
# every character of every field is escaped (``&`` → ``&amp;``).
NEIGHBOURS_SHOWN = 3
TERMS_SHOWN = 5
URL_CHARS = 300        # a longer link (a long, URL-encoded id) is shown as text only
ID_CHARS = 40          # a neighbour's id as shown (the link carries the whole id)
LABEL_CHARS = 40
EXCERPT_CHARS = 90     # the closest neighbour's excerpt, needs-a-human tickets only
TERM_CHARS = 30


def evidence_blocks(event, ticket_url_template: str) -> list[dict]:
    """``[]`` or one context block for the event's ``evidence``."""
    evidence = getattr(event, "evidence", None)
    if evidence is None:
        return []
    lines = []
    if evidence.neighbours:
        shown = []
        for i, n in enumerate(evidence.neighbours[:NEIGHBOURS_SHOWN]):
            url = ticket_url(ticket_url_template, n.ticket_id)
            name = f"#{mrkdwn(shorten(n.ticket_id, ID_CHARS))}"
            link = f"<{url}|{name}>" if len(url) <= URL_CHARS else name
            item = f"{link} {mrkdwn(shorten(n.label, LABEL_CHARS))} {n.similarity:.2f}"
            if i == 0 and event.needs_human and n.excerpt:
                item += f" “{mrkdwn(shorten(n.excerpt, EXCERPT_CHARS))}”"
            shown.append(item)
        lines.append("*Similar:* " + " · ".join(shown))
    if evidence.terms:
        lines.append("*Words:* " + " · ".join(f"`{mrkdwn(shorten(t, TERM_CHARS))}`"
                                                for t in evidence.terms[:TERMS_SHOWN]))
    if not lines:
        return []
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": line} for line in lines]}]
