"""Dead letters keep the original bytes exactly (and readable), bounded, and valid against the contract."""
from __future__ import annotations

import base64
import hashlib
import json
import typing

import pytest

from schemas import DEAD_LETTER_SCHEMA_VERSION, validate_json_schema
from schemas.models import ErrorCode
from stream.kafka.dlq import (
    REASON_HEADER_MAX_BYTES, dead_letter_bytes, dead_letter_record, failure_reason, make_dead_letter, payload_text,
)
from stream.kafka.headers import STANDARD_NAMES, describe


def test_invalid_utf8_becomes_replacement_characters():
    assert payload_text(b'{"a": "\xff"}') == '{"a": "\ufffd"}'
    assert payload_text(None) == ""


def test_oversized_payload_is_cut_at_the_limit():
    text = payload_text("é" * 1000, max_bytes=101)
    assert len(text.encode("utf-8")) <= 103 and text.startswith("ééé")


@pytest.mark.parametrize("code", typing.get_args(ErrorCode))
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
    copy = 4 * ((len(payload) + 2) // 3)  # base64
    text = len(json.dumps(payload.decode("utf-8", "replace"), ensure_ascii=False).encode())
    empty = len(dead_letter_bytes("invalid_json", "why " * 1000, b"", topic="tickets.raw", partition=0, offset=1,
                                  component="worker", max_bytes=max_bytes))
    kept = document["payload_base64"] is not None
    # the exact copy is kept whenever it fits, never when it cannot
    if empty + copy + 64 <= max_bytes:
        assert kept
    if empty + copy > max_bytes:
        assert not kept and document["headers"] is None
    if kept:
        assert base64.b64decode(document["payload_base64"], validate=True) == payload and document["headers"] == []
    # the readable text fills what is left: whole when it fits, else cut with the bound used, not thrown away
    if empty + copy * kept + text + 64 <= max_bytes:
        assert not document["payload_truncated"]
    if document["payload_truncated"]:
        assert len(encoded) > max_bytes * 0.5


def test_the_original_value_and_headers_come_back_byte_for_byte():
    payload = b'{"ticket_id": "T-\xff\x00", "bad": \x01}'
    headers = [("content-type", b"application/json"), ("trace", b"\x00\xff\xfe"), ("trace", b"second"),
               ("empty", None)]
    letter = json.loads(dead_letter_bytes("invalid_json", "not UTF-8", payload, topic="tickets.raw", partition=1,
                                          offset=9, component="worker", headers=headers))
    assert letter["schema_version"] == DEAD_LETTER_SCHEMA_VERSION
    assert base64.b64decode(letter["payload_base64"]) == payload
    assert [(h["key"], None if h["value_base64"] is None else base64.b64decode(h["value_base64"]))
            for h in letter["headers"]] == headers  # order and repeated names kept
    assert "\ufffd" in letter["payload"]  # the readable text beside it, replacement characters where invalid


def test_a_tombstone_has_no_exact_copy():
    letter = json.loads(dead_letter_bytes("invalid_json", "empty message value (tombstone)", None,
                                          topic="tickets.raw", partition=0, offset=0, component="worker"))
    assert letter["payload_base64"] is None and letter["headers"] is None and letter["payload"] == ""


def test_the_dead_letter_record_carries_the_original_key_and_the_error_context_in_headers():
    record = dead_letter_record("schema_violation", "ticket_event: source: " + "é" * 2000, b"{}", key=b"T-9",
                                headers=[("ce_id", b"abc")], topic="tickets.raw", partition=2, offset=41,
                                component="worker")
    names = describe(record.headers)
    assert record.key == b"T-9" and set(STANDARD_NAMES) <= names.keys()
    assert names["schema_name"] == "dead_letter_event" and names["schema_version"] == DEAD_LETTER_SCHEMA_VERSION
    assert (names["dlq_error_code"], names["dlq_component"], names["dlq_topic"], names["dlq_partition"],
            names["dlq_offset"], names["dlq_replayable"]) == ("schema_violation", "worker", "tickets.raw", "2", "41",
                                                              "true")
    assert len(names["dlq_reason"].encode()) <= REASON_HEADER_MAX_BYTES + 3 and names["dlq_reason"].endswith("…")
    again = dead_letter_record("schema_violation", "other words", b"{}", key=b"T-9", topic="tickets.raw",
                               partition=2, offset=41, component="worker")
    assert describe(again.headers)["ce_id"] == names["ce_id"]  # the same failed record is the same event
    cut = dead_letter_record("processing_failed", "refused", b"{}", key=b"k" * 5000, topic="tickets.raw",
                             partition=0, offset=1, component="worker", key_max_bytes=1024)
    assert len(cut.key) == 1024 and describe(cut.headers)["dlq_key_truncated"] == "true"
    assert describe(cut.headers)["dlq_replayable"] == "false"


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
