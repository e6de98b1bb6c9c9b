"""The Block Kit message: what a reader sees and what the buttons carry back."""
from __future__ import annotations

import json

from schemas.models import ClassifiedEvent
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, build_message, escape, shorten
from tests.fixtures.downstream import classified_event

TEMPLATE = "https://desk.example.com/t/{ticket_id}"
LABELS = ("Access", "Hardware", "Storage", "Purchase")


def _message(limit: int = 120, **overrides):
    event = ClassifiedEvent.model_validate(classified_event("INC-42", **overrides))
    return event, build_message(event, channel="#it-x", labels=LABELS, ticket_url_template=TEMPLATE,
                                excerpt_chars=limit)


def _all_text(blocks) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_message_shows_ticket_link_prediction_runner_up_and_model():
    event, msg = _message()
    text = _all_text(msg["blocks"])
    assert msg["channel"] == "#it-x"
    assert f"<{TEMPLATE.format(ticket_id='INC-42')}|INC-42>" in text
    assert event.category in text and f"{event.confidence:.0%}" in text
    runner_up = event.top_k[1]
    assert f"{runner_up.category} ({runner_up.probability:.0%})" in text
    assert event.model_version in text
    assert msg["metadata"]["event_payload"]["event_id"] == event.event_id
    assert "Needs a human" not in text


def test_needs_human_is_marked():
    _, msg = _message(needs_human=True)
    assert "Needs a human" in msg["blocks"][0]["text"]["text"]
    assert msg["text"].startswith("Needs a human")


def test_excerpt_is_shortened_on_a_word_and_masks_survive_escaped():
    excerpt = "hello <EMAIL> my card [MASKED] " + " ".join(f"word{i}" for i in range(30))
    _, msg = _message(limit=60, excerpt=excerpt)
    section = next(b for b in msg["blocks"] if b["type"] == "section" and "text" in b and "INC-42" in b["text"]["text"])
    quoted = section["text"]["text"].split("\n>", 1)[1]
    assert "&lt;EMAIL&gt;" in quoted and "[MASKED]" in quoted and "<EMAIL>" not in quoted
    assert quoted.endswith("…")
    unescaped = quoted.replace("&lt;", "<").replace("&gt;", ">")
    assert len(unescaped) <= 60
    assert unescaped[:-1].rstrip() in excerpt  # cut at a word boundary, nothing invented


def test_buttons_carry_the_ticket_context_and_every_label():
    event, msg = _message()
    actions = next(b for b in msg["blocks"] if b["type"] == "actions")
    assert json.loads(actions["block_id"]) == {"t": "INC-42", "c": event.category, "m": event.model_version}
    confirm = next(e for e in actions["elements"] if e["action_id"] == CONFIRM_ACTION)
    assert confirm["value"] == event.category
    select = next(e for e in actions["elements"] if e["action_id"] == PICK_ACTION)
    values = [o["value"] for o in select["options"]]
    assert set(LABELS) <= set(values) and {k.category for k in event.top_k} <= set(values)
    assert len(values) == len(set(values))


def test_shorten_and_escape():
    assert shorten("a  b\n c", 10) == "a b c"
    assert len(shorten("x" * 50, 10)) <= 10
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def _source_field(msg) -> str:
    fields = next(b["fields"] for b in msg["blocks"] if "fields" in b)
    return next(f["text"] for f in fields if f["text"].startswith("*Source*"))


def test_the_ticket_s_language_is_shown_next_to_its_source():
    _, msg = _message(schema_version="2", language="de", source="email")
    assert _source_field(msg) == "*Source*\nemail · language `de`"
    _, old = _message()  # a version-1 event has no language: nothing invented
    assert _source_field(old) == "*Source*\nchat"
