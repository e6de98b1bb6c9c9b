"""Every shipped example matches both the JSON Schema and the pydantic model; broken ones fail on the right field."""
from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import pytest

from schemas import SchemaViolation, parse_event, validate_json_schema
from schemas.validate import load_schema, schema_names

EXAMPLES = Path(str(resources.files("schemas"))) / "examples"


def _examples():
    for path in sorted(EXAMPLES.glob("*/*.json")):
        yield pytest.param(path.parent.name, json.loads(path.read_text("utf-8")), id=f"{path.parent.name}/{path.stem}")


def test_every_event_has_examples_and_a_2020_12_schema():
    for event in schema_names():
        schema = load_schema(event)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert list((EXAMPLES / event).glob("*.json")), f"no example for {event}"


def test_ticket_examples_cover_chat_email_multi_turn_and_masking():
    tickets = [json.loads(p.read_text("utf-8")) for p in (EXAMPLES / "ticket_event").glob("*.json")]
    assert {t["source"] for t in tickets} == {"chat", "email"}
    assert any(len(t["messages"]) > 2 for t in tickets)
    texts = " ".join(m["text"] for t in tickets for m in t["messages"])
    assert "[MASKED]" in texts and "<EMAIL>" in texts


@pytest.mark.parametrize(("event", "document"), list(_examples()))
def test_example_is_valid_for_both(event, document):
    validate_json_schema(event, document)
    model = parse_event(event, document)
    # What the model writes back is valid for the language-neutral schema too.
    validate_json_schema(event, json.loads(model.model_dump_json()))


def _ticket():
    return json.loads((EXAMPLES / "ticket_event" / "multi_turn.json").read_text("utf-8"))


def _classified():
    return json.loads((EXAMPLES / "classified_event" / "confident.json").read_text("utf-8"))


def _classified_v2():
    return json.loads((EXAMPLES / "classified_event" / "german_email.json").read_text("utf-8"))


def _classified_v3():
    return json.loads((EXAMPLES / "classified_event" / "with_evidence.json").read_text("utf-8"))


def _classified_v4():
    return json.loads((EXAMPLES / "classified_event" / "served_by_challenger.json").read_text("utf-8"))


def _shadow():
    return json.loads((EXAMPLES / "shadow_classified_event" / "agrees.json").read_text("utf-8"))


def _multi_label():
    return json.loads((EXAMPLES / "classified_event" / "multi_label.json").read_text("utf-8"))


def _feedback_v2():
    return json.loads((EXAMPLES / "feedback_event" / "label_edit.json").read_text("utf-8"))


def _dead_letter():
    return json.loads((EXAMPLES / "dead_letter_event" / "invalid_json.json").read_text("utf-8"))


def _feedback():
    return json.loads((EXAMPLES / "feedback_event" / "slack.json").read_text("utf-8"))


def _set(doc, path, value):
    *parents, last = path
    for part in parents:
        doc = doc[part]
    if value is _DELETE:
        del doc[last]
    else:
        doc[last] = value


_DELETE = object()

BROKEN = [
    # (event, base, path to change, new value, field the error must name)
    ("ticket_event", _ticket, ["ticket_id"], "", "ticket_id"),
    ("ticket_event", _ticket, ["ticket_id"], _DELETE, "ticket_id"),
    ("ticket_event", _ticket, ["source"], "fax", "source"),
    ("ticket_event", _ticket, ["messages"], [], "messages"),
    ("ticket_event", _ticket, ["messages", 1, "role"], "customer", "messages[1].role"),
    ("ticket_event", _ticket, ["messages", 0, "text"], 42, "messages[0].text"),
    ("ticket_event", _ticket, ["created_at"], "yesterday", "created_at"),
    ("ticket_event", _ticket, ["created_at"], 1764000000, "created_at"),
    ("ticket_event", _ticket, ["schema_version"], "2", "schema_version"),
    ("ticket_event", _ticket, ["triage", "category_hint"], 3, "triage.category_hint"),
    ("classified_event", _classified, ["confidence"], 1.5, "confidence"),
    ("classified_event", _classified, ["event_id"], "not-hex", "event_id"),
    ("classified_event", _classified, ["needs_human"], "no", "needs_human"),
    ("classified_event", _classified, ["top_k", 0, "probability"], -0.1, "top_k[0].probability"),
    ("classified_event", _classified, ["excerpt"], "x" * 281, "excerpt"),
    ("classified_event", _classified, ["schema_version"], "5", "schema_version"),
    ("classified_event", _classified_v4, ["arm"], "canary", "arm"),
    ("shadow_classified_event", _shadow, ["arm"], "champion", "arm"),
    ("shadow_classified_event", _shadow, ["champion_version"], _DELETE, "champion_version"),
    ("shadow_classified_event", _shadow, ["champion_version"], "", "champion_version"),
    ("shadow_classified_event", _shadow, ["language"], None, "language"),
    ("shadow_classified_event", _shadow, ["schema_version"], "4", "schema_version"),
    ("classified_event", _multi_label, ["labels", 0, "probability"], 1.2, "labels[0].probability"),
    ("classified_event", _multi_label, ["labels", 1, "label"], "", "labels[1].label"),
    ("classified_event", _multi_label, ["labels", 0, "label"], _DELETE, "labels[0].label"),
    ("classified_event", _multi_label, ["labels"], [{"label": "A", "probability": 0.5}] * 101, "labels"),
    ("classified_event", _multi_label, ["labels"], {"Hardware": 0.88}, "labels"),
    ("classified_event", _multi_label, ["language"], _DELETE, "language"),
    ("classified_event", _classified_v3, ["evidence", "neighbours", 0, "similarity"], 1.5,
     "evidence.neighbours[0].similarity"),
    ("classified_event", _classified_v3, ["evidence", "neighbours", 0, "ticket_id"], "", "evidence.neighbours[0].ticket_id"),
    ("classified_event", _classified_v3, ["evidence", "neighbours", 1, "label"], _DELETE, "evidence.neighbours[1].label"),
    ("classified_event", _classified_v3, ["evidence", "neighbours", 0, "excerpt"], "x" * 281,
     "evidence.neighbours[0].excerpt"),
    ("classified_event", _classified_v3, ["evidence", "neighbours"], [{"ticket_id": "1", "label": "A",
                                                                       "similarity": 0.5}] * 11, "evidence.neighbours"),
    ("classified_event", _classified_v3, ["evidence", "terms"], ["t"] * 11, "evidence.terms"),
    ("classified_event", _classified_v3, ["evidence", "terms", 0], "x" * 65, "evidence.terms[0]"),
    ("classified_event", _classified_v3, ["language"], _DELETE, "language"),
    ("classified_event", _classified_v2, ["language"], _DELETE, "language"),
    ("classified_event", _classified_v2, ["language"], None, "language"),
    ("classified_event", _classified_v2, ["language"], "de-DE", "language"),
    ("classified_event", _classified, ["language"], "German", "language"),
    ("feedback_event", _feedback, ["source"], "email", "source"),
    ("feedback_event", _feedback, ["user"], _DELETE, "user"),
    ("feedback_event", _feedback, ["event_id"], "not-a-hex-id", "event_id"),
    ("feedback_event", _feedback, ["schema_version"], "3", "schema_version"),
    ("feedback_event", _feedback_v2, ["labels_added", 0], "", "labels_added[0]"),
    ("feedback_event", _feedback_v2, ["labels_removed"], "Access", "labels_removed"),
    ("feedback_event", _feedback_v2, ["labels_added"], ["A"] * 101, "labels_added"),
    ("dead_letter_event", _dead_letter, ["error_code"], "oops", "error_code"),
    ("dead_letter_event", _dead_letter, ["offset"], -1, "offset"),
    ("dead_letter_event", _dead_letter, ["partition"], "2", "partition"),
]


@pytest.mark.parametrize(("event", "base", "path", "value", "field"), BROKEN,
                         ids=[f"{b[0]}:{b[4]}={b[3]!r}"[:60] for b in BROKEN])
def test_broken_event_fails_naming_the_field(event, base, path, value, field):
    document = copy.deepcopy(base())
    _set(document, path, value)
    with pytest.raises(SchemaViolation) as json_schema_error:
        validate_json_schema(event, document)
    assert json_schema_error.value.field == field, str(json_schema_error.value)
    assert field in str(json_schema_error.value)
    with pytest.raises(SchemaViolation) as model_error:
        parse_event(event, document)
    assert model_error.value.field.startswith(field), str(model_error.value)
    assert field in str(model_error.value)


def test_unknown_fields_are_tolerated_by_both():
    document = _ticket() | {"x_upstream_queue": "L2"}
    validate_json_schema("ticket_event", document)
    assert parse_event("ticket_event", document).ticket_id == document["ticket_id"]


def test_classified_event_v1_without_language_is_still_valid_for_both():
    document = _classified()
    assert document["schema_version"] == "1" and "language" not in document
    validate_json_schema("classified_event", document)
    assert parse_event("classified_event", document).language is None
    # The version-1 schema file stays as it was: v1 consumers keep validating v1 events.
    assert load_schema("classified_event", 1)["properties"]["schema_version"] == {"const": "1"}


def test_classified_event_v2_carries_language_and_is_what_the_model_writes():
    from schemas import ClassifiedEvent

    document = _classified_v2()
    validate_json_schema("classified_event", document)
    assert parse_event("classified_event", document).language == "de"
    fresh = {k: v for k, v in document.items() if k != "schema_version"}
    written = json.loads(ClassifiedEvent.model_validate(fresh).model_dump_json())
    assert written["schema_version"] == "4" and written["language"] == "de" and written["evidence"] is None
    assert written["labels"] is None  # a single-label answer carries no label set
    validate_json_schema("classified_event", written)
    # A version-2 event (no evidence) stays valid for both.
    assert document["schema_version"] == "2" and "evidence" not in document
    assert load_schema("classified_event", 2)["properties"]["schema_version"] == {"enum": ["1", "2"]}


def test_classified_event_v3_carries_evidence_for_both():
    document = _classified_v3()
    assert document["schema_version"] == "3"
    validate_json_schema("classified_event", document)
    event = parse_event("classified_event", document)
    assert [n.ticket_id for n in event.evidence.neighbours] == [n["ticket_id"] for n in document["evidence"]["neighbours"]]
    assert event.evidence.neighbours[2].excerpt is None  # trained with excerpts off
    assert list(event.evidence.terms) == document["evidence"]["terms"]
    validate_json_schema("classified_event", document | {"evidence": None})
    assert parse_event("classified_event", document | {"evidence": None}).evidence is None


def test_classified_event_v4_says_which_arm_served_it_and_older_events_read_as_no_arm():
    document = _classified_v4()
    assert document["schema_version"] == "4" and document["arm"] == "challenger"
    validate_json_schema("classified_event", document)
    assert parse_event("classified_event", document).arm == "challenger"
    for old in (_classified(), _classified_v2(), _classified_v3()):
        assert "arm" not in old
        validate_json_schema("classified_event", old)
        assert parse_event("classified_event", old).arm is None
    without = {k: v for k, v in document.items() if k != "arm"}
    validate_json_schema("classified_event", without)
    assert load_schema("classified_event", 3)["properties"]["schema_version"] == {"enum": ["1", "2", "3"]}


def test_a_shadow_event_is_a_classified_event_with_the_champion_beside_it():
    """The sink reads both topics with one row builder: every shadow event is a valid ClassifiedEvent too."""
    from schemas import ShadowClassifiedEvent

    for path in sorted((EXAMPLES / "shadow_classified_event").glob("*.json")):
        document = json.loads(path.read_text("utf-8"))
        event = parse_event("shadow_classified_event", document)
        assert isinstance(event, ShadowClassifiedEvent) and event.arm == "challenger"
        assert event.champion_version != event.model_version
        as_classified = document | {"schema_version": "4"}
        validate_json_schema("classified_event", as_classified)
    assert ShadowClassifiedEvent.model_fields["schema_version"].default == "1"


def test_classified_event_v4_carries_the_label_set_for_both_and_v3_stays_valid():
    document = _multi_label()
    assert document["schema_version"] == "4"
    validate_json_schema("classified_event", document)
    event = parse_event("classified_event", document)
    assert event.label_names == [item["label"] for item in document["labels"]]
    assert event.category == event.label_names[0]  # the single category stays the top label
    empty = document | {"labels": [], "needs_human": True}  # no label reached its threshold
    validate_json_schema("classified_event", empty)
    assert parse_event("classified_event", empty).label_names == []
    assert parse_event("classified_event", _classified_v3()).labels is None
    assert load_schema("classified_event", 3)["properties"]["schema_version"] == {"enum": ["1", "2", "3"]}


def test_feedback_event_v2_label_edit_is_valid_for_both_and_v1_stays_valid():
    document = _feedback_v2()
    validate_json_schema("feedback_event", document)
    event = parse_event("feedback_event", document)
    assert event.is_label_edit and event.labels_added == document["labels_added"]
    assert event.corrected_category == event.previous_category  # a label edit corrects no category
    old = parse_event("feedback_event", _feedback())
    assert old.schema_version == "1" and not old.is_label_edit
    assert load_schema("feedback_event", 1)["properties"]["schema_version"] == {"const": "1"}
    written = json.loads(old.model_copy(update={"schema_version": "2"}).model_dump_json())
    validate_json_schema("feedback_event", written)
