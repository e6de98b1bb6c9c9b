"""The evidence context block: similar past tickets (linked) and deciding words, compact and harmless."""
from __future__ import annotations

import pytest

from schemas.models import ClassifiedEvent
from stream.slack.blocks import build_message, ticket_url
from tests.fixtures.downstream import classified_event
from tests.slack.harmless import assert_harmless, links
from tests.slack.test_blocks_hostile import HOSTILE

TEMPLATE = "https://desk.example.com/t/{ticket_id}?view=full&tab=1"
NEIGHBOURS = [{"ticket_id": "4711", "label": "Access", "similarity": 0.912, "excerpt": "cannot log in to the vpn"},
              {"ticket_id": "3920", "label": "Storage", "similarity": 0.874, "excerpt": None},
              {"ticket_id": "1088", "label": "Access", "similarity": 0.8612}]
TERMS = ["vpn", "log in", "password"]


def _message(neighbours=NEIGHBOURS, terms=TERMS, **overrides):
    document = classified_event("INC-7", schema_version="3", language="en",
                                evidence={"neighbours": neighbours, "terms": terms}, **overrides)
    event = ClassifiedEvent.model_validate(document)
    return build_message(event, channel="#it-x", labels=("Access",), ticket_url_template=TEMPLATE,
                         excerpt_chars=200)


def _context_lines(message) -> list[str]:
    [block] = [b for b in message["blocks"] if b["type"] == "context"]
    return [e["text"] for e in block["elements"]]


def test_similar_tickets_are_linked_with_label_and_similarity_and_words_follow():
    similar, words = _context_lines(_message())
    assert similar.startswith("*Similar:* ")
    assert [link.split("|")[1] for link in links(similar, TEMPLATE)] == ["#4711>", "#3920>", "#1088>"]
    assert "<https://desk.example.com/t/4711?view=full&amp;tab=1|#4711> Access 0.91" in similar
    assert "Storage 0.87" in similar and "Access 0.86" in similar
    assert "cannot log in" not in similar  # a confident ticket stays a glance
    assert words == "*Words:* `vpn` · `log in` · `password`"


def test_needs_a_human_adds_the_closest_ticket_s_excerpt():
    similar, _ = _context_lines(_message(needs_human=True))
    assert "#4711> Access 0.91 “cannot log in to the vpn”" in similar


def test_no_evidence_no_context_block_and_half_evidence_one_line():
    event = ClassifiedEvent.model_validate(classified_event("INC-8"))
    message = build_message(event, channel="#c", labels=(), ticket_url_template=TEMPLATE, excerpt_chars=200)
    assert not [b for b in message["blocks"] if b["type"] == "context"]
    assert _context_lines(_message(terms=[])) [0].startswith("*Similar:*")
    assert _context_lines(_message(neighbours=[])) == ["*Words:* `vpn` · `log in` · `password`"]
    assert not [b for b in _message(neighbours=[], terms=[])["blocks"] if b["type"] == "context"]


@pytest.mark.parametrize("char", ["9", "&", "é"])
def test_the_largest_evidence_stays_within_slack_s_limits(char):
    big = [{"ticket_id": char * 256, "label": "&" * 300, "similarity": 1, "excerpt": "& " * 140}] * 10
    lines = _context_lines(_message(neighbours=big, terms=["&" * 64] * 10, needs_human=True))
    assert len(lines) == 2 and all(len(line) < 3000 for line in lines)  # Slack's limit per context element
    assert lines[0].count(" · ") == 2 and lines[1].count(" · ") == 4  # 3 neighbours, 5 words at most


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["ticket_id", "label", "excerpt", "term"])
def test_hostile_evidence_cannot_ping_or_link(field, value):
    neighbour = {"ticket_id": "4711", "label": "Access", "similarity": 0.9, "excerpt": "x"}
    if field == "term":
        message = _message(terms=[value], needs_human=True)
    else:
        message = _message(neighbours=[neighbour | {field: value}], needs_human=True)
    assert_harmless(message, TEMPLATE)
    if field == "ticket_id":  # URL-encoded into our link, shown as text
        [link] = links(_context_lines(message)[0], TEMPLATE)
        assert link[1:].split("|", 1)[0] == ticket_url(TEMPLATE, value)
