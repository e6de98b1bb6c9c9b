"""Dead letters keep the original bytes readable, bounded, and valid against the contract."""
from __future__ import annotations

import hashlib
import json

import pytest

from schemas import validate_json_schema
from stream.kafka.dlq import dead_letter_bytes, failure_reason, make_dead_letter, payload_text


def test_invalid_utf8_becomes_replacement_characters():
    assert payload_text(b'{"a": "\xff"}') == '{"a": "\ufffd"}'
    assert payload_text(None) == ""


def test_oversized_payload_is_cut_at_the_limit():
    text = payload_text("é" * 1000, max_bytes=101)
    assert len(text.encode("utf-8")) <= 103 and text.startswith("ééé")


@pytest.mark.parametrize("code", ["invalid_json", "schema_violation", "empty_text", "payload_too_large",
                                  "inference_failed", "slack_permanent_error", "sink_rejected",
                                  "processing_failed"])
def test_every_error_code_makes_a_valid_event(code):
    event = make_dead_letter(code, "because", b"payload", topic="tickets.raw", partition=3, offset=17,
                             component="worker")
    document = json.loads(event.to_json_bytes())
    validate_json_schema("dead_letter_event", document)
    assert (document["topic"], document["partition"], document["offset"]) == ("tickets.raw", 3, 17)


@pytest.mark.parametrize("payload", [b"\x01" * 200_000, "é".encode() * 150_000, b'"' * 300_000, b"\xff" * 100_000,
                                     b"ok" * 10])
@pytest.mark.parametrize("max_bytes", [4096, 65_536, 512 * 1024])
def test_encoded_dead_letter_never_exceeds_its_bound(payload, max_bytes):
    encoded = dead_letter_bytes("invalid_json", "why " * 1000, payload, topic="tickets.raw", partition=0,
                                offset=1, component="worker", max_bytes=max_bytes)
    assert len(encoded) <= max_bytes
    document = json.loads(encoded)
    validate_json_schema("dead_letter_event", document)
    assert document["payload_bytes"] == len(payload)
    assert document["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    fits_whole = len(json.dumps(payload.decode("utf-8", "replace"), ensure_ascii=False).encode()) + 1500 < max_bytes
    assert document["payload_truncated"] is not fits_whole
    if not fits_whole:  # the bound is used, not thrown away: the head is kept up to near the limit
        assert len(encoded) > max_bytes * 0.5


def test_lone_surrogates_in_the_reason_still_encode():
    encoded = dead_letter_bytes("processing_failed", "subject 'printer \ud800 help'", b'{"subject":"\\ud800"}',
                                topic="tickets.raw", partition=0, offset=0, component="worker")
    assert json.loads(encoded)["reason"].startswith("subject 'printer ")


def test_failure_reason_maps_every_exception():
    from pydantic import BaseModel, ValidationError

    from stream.exceptions import BadTicket

    class FeedbackNote(BaseModel):
        x: int
        y: int

    try:
        FeedbackNote.model_validate({"x": "nope"})
    except ValidationError as exc:
        # the event named as the contracts name it, then every offending field
        assert failure_reason(exc) == ("schema_violation", "feedback_note: x: Input should be a valid integer, "
                                                           "unable to parse string as an integer; y: Field required")
    assert failure_reason(BadTicket("empty_text", "nothing left")) == ("empty_text", "nothing left")
    assert failure_reason(OverflowError("date value out of range")) == (
        "processing_failed", "OverflowError: date value out of range")


def test_the_dead_letter_bound_setting_defaults_to_the_builder_s_bound_and_is_range_checked():
    from stream.config import MAX_DLQ_MAX_BYTES, MIN_DLQ_MAX_BYTES, ConfigError, Settings
    from stream.kafka.dlq import DEFAULT_MAX_DEAD_LETTER_BYTES

    assert Settings.from_env({}).dlq_max_bytes == DEFAULT_MAX_DEAD_LETTER_BYTES
    assert Settings.from_env({"TICKETS_DLQ_MAX_BYTES": "65536"}).dlq_max_bytes == 65536
    for bad in (MIN_DLQ_MAX_BYTES - 1, MAX_DLQ_MAX_BYTES + 1):
        with pytest.raises(ConfigError, match="TICKETS_DLQ_MAX_BYTES"):
            Settings.from_env({"TICKETS_DLQ_MAX_BYTES": str(bad)})


def test_the_smallest_bound_still_holds_the_longest_reason_fully_escaped():
    from stream.config import MIN_DLQ_MAX_BYTES

    encoded = dead_letter_bytes("processing_failed", "\x01" * 10_000, b"\x01" * 100_000, topic="t" * 249,
                                partition=0, offset=2**62, component="worker", max_bytes=MIN_DLQ_MAX_BYTES)
    assert len(encoded) <= MIN_DLQ_MAX_BYTES and json.loads(encoded)["payload_truncated"]
