"""Dead letters keep the original bytes readable, bounded, and valid against the contract."""
from __future__ import annotations

import json

import pytest

from schemas import validate_json_schema
from stream.dlq import make_dead_letter, payload_text


def test_invalid_utf8_becomes_replacement_characters():
    assert payload_text(b'{"a": "\xff"}') == '{"a": "\ufffd"}'
    assert payload_text(None) == ""


def test_oversized_payload_is_cut_at_the_limit():
    text = payload_text("é" * 1000, max_bytes=101)
    assert len(text.encode("utf-8")) <= 103 and text.startswith("ééé")


@pytest.mark.parametrize("code", ["invalid_json", "schema_violation", "empty_text", "payload_too_large",
                                  "inference_failed", "slack_permanent_error", "sink_rejected"])
def test_every_error_code_makes_a_valid_event(code):
    event = make_dead_letter(code, "because", b"payload", topic="tickets.raw", partition=3, offset=17,
                             component="worker")
    document = json.loads(event.to_json_bytes())
    validate_json_schema("dead_letter_event", document)
    assert (document["topic"], document["partition"], document["offset"]) == ("tickets.raw", 3, 17)
