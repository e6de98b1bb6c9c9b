"""Field limits, valid Unicode and the date range: the pydantic model and the JSON Schema agree on each."""
from __future__ import annotations

import copy
import json
from datetime import timezone
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import SchemaViolation, TicketEvent, parse_event, validate_json_schema
from schemas import models as m

EXAMPLE = Path(str(resources.files("schemas"))) / "examples" / "ticket_event" / "multi_turn.json"


def _ticket() -> dict:
    return json.loads(EXAMPLE.read_text("utf-8"))


def _with(path, value) -> dict:
    document = _ticket()
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return document


def _verdicts(document) -> tuple[str | None, str | None]:
    """(first field the JSON Schema names, first field the model names); None where valid."""
    fields = []
    for check in (lambda: validate_json_schema("ticket_event", document), lambda: parse_event("ticket_event", document)):
        try:
            check()
            fields.append(None)
        except SchemaViolation as exc:
            fields.append(exc.field)
    return fields[0], fields[1]


HOSTILE = [
    (["subject"], "printer \ud800 help", "subject"),
    (["ticket_id"], "T-\udfff", "ticket_id"),
    (["messages", 0, "text"], "a \udc80 b", "messages[0].text"),
    (["language"], "e\ud83dn", "language"),
    (["created_at"], "0001-01-01T00:00:00+01:00", "created_at"),
    (["created_at"], "9999-12-31T23:59:59-01:00", "created_at"),
    (["created_at"], "1969-12-31T23:59:59Z", "created_at"),
    (["created_at"], "2200-01-01T00:00:00Z", "created_at"),
    (["created_at"], "2026-11-24T09:00Z", "created_at"),
    (["created_at"], "2026-11-24T09:00:00+05:60", "created_at"),
    (["messages", 1, "sent_at"], "0001-01-01T00:00:00Z", "messages[1].sent_at"),
    (["ticket_id"], "\x1c\x1d", "ticket_id"),
    (["ticket_id"], "t" * (m.TICKET_ID_MAX_CHARS + 1), "ticket_id"),
    (["subject"], "s" * (m.SUBJECT_MAX_CHARS + 1), "subject"),
    (["messages"], [{"role": "requester", "text": "x"}] * (m.MESSAGES_MAX + 1), "messages"),
    (["messages", 0, "text"], "w" * (m.MESSAGE_TEXT_MAX_CHARS + 1), "messages[0].text"),
    (["triage"], {f"k{i}": "v" for i in range(m.TRIAGE_MAX_KEYS + 1)}, "triage"),
    (["triage"], {"k" * (m.TRIAGE_KEY_MAX_CHARS + 1): "v"}, "triage"),
    (["triage"], {"": "v"}, "triage"),
    (["triage", "service"], "v" * (m.TRIAGE_VALUE_MAX_CHARS + 1), "triage.service"),
    (["language"], "x" * (m.LANGUAGE_MAX_CHARS + 1), "language"),
]


@pytest.mark.parametrize(("path", "value", "field"), HOSTILE, ids=[f"{h[2]}={h[1]!r}"[:50] for h in HOSTILE])
def test_hostile_field_is_refused_by_both_naming_it(path, value, field):
    by_schema, by_model = _verdicts(_with(path, value))
    assert by_schema is not None and by_schema.startswith(field), by_schema
    assert by_model is not None and by_model.startswith(field), by_model


EDGES = [
    (["created_at"], "1970-01-01T00:00:00+23:59"),
    (["created_at"], "2199-12-31T23:59:59.999999-23:59"),
    (["messages", 1, "sent_at"], "1970-01-01T00:00:00Z"),
    (["ticket_id"], "t" * m.TICKET_ID_MAX_CHARS),
    (["subject"], "\x01" * m.SUBJECT_MAX_CHARS),
    (["messages"], [{"role": "requester", "text": "x"}] * m.MESSAGES_MAX),
    (["messages", 0, "text"], "w" * m.MESSAGE_TEXT_MAX_CHARS),
    (["triage"], {"k" * m.TRIAGE_KEY_MAX_CHARS + str(i): "v" * m.TRIAGE_VALUE_MAX_CHARS
                  for i in range(m.TRIAGE_MAX_KEYS)}),
    (["language"], "x" * m.LANGUAGE_MAX_CHARS),
    (["subject"], "printer \U0001F5A8 help"),  # a real astral character is fine
]


@pytest.mark.parametrize(("path", "value"), EDGES, ids=[f"{e[0][-1]}={e[1]!r}"[:50] for e in EDGES])
def test_values_at_the_limits_are_accepted_by_both(path, value):
    if path == ["triage"]:  # keys at the limit: cut the index suffix back in
        value = {k[: m.TRIAGE_KEY_MAX_CHARS]: v for k, v in value.items()} | {"x": "y"}
        value = dict(list(value.items())[: m.TRIAGE_MAX_KEYS])
    assert _verdicts(_with(path, value)) == (None, None)


@pytest.mark.parametrize("written", ["1970-01-01T00:00:00+23:59", "2199-12-31T23:59:59.999999-23:59"])
def test_dates_at_the_range_ends_convert_everywhere(written):
    ticket = TicketEvent.model_validate(_with(["created_at"], written))
    utc = ticket.created_at.astimezone(timezone.utc)          # what the sink stores (TIMESTAMP_NTZ, UTC)
    assert pd.Timestamp(utc.replace(tzinfo=None)).year == utc.year  # pandas datetime64[ns] (training reads)
    assert utc.timestamp() > -86_401
    assert ticket.created_at.astimezone(timezone.max).year <= 2200
    assert ticket.created_at.astimezone(timezone.min).year >= 1969


# ---- property: the two validators agree on whatever a producer might send --------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
_json = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids,
                                                                                           max_size=3), max_leaves=8)
_dates = st.from_regex(r"\A\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,7})?([Zz]|[+-]\d{2}:\d{2})?\Z")
_texts = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8)
_FIELDS = [["ticket_id"], ["source"], ["subject"], ["messages"], ["messages", 0], ["messages", 0, "role"],
           ["messages", 0, "text"], ["messages", 1, "sent_at"], ["triage"], ["triage", "service"], ["language"],
           ["created_at"], ["schema_version"]]


@given(st.lists(st.tuples(st.sampled_from(_FIELDS), _json | _dates | _texts), min_size=1, max_size=3))
def test_model_and_json_schema_agree_on_mutated_tickets(changes):
    document = _ticket()
    for path, value in changes:
        node = document
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the parent
    by_schema, by_model = _verdicts(document)
    assert (by_schema is None) == (by_model is None), (by_schema, by_model, document)
    if by_model is None:  # whatever is accepted can be written back and converted
        ticket = TicketEvent.model_validate(document)
        ticket.to_json_bytes()
        ticket.created_at.astimezone(timezone.utc)
