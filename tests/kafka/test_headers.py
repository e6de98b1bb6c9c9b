"""Record headers: built the same way for every event, read (never required) on input."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest

from schemas import CLASSIFIED_SCHEMA_VERSION
from schemas.models import MODELS
from stream.kafka.headers import (
    STANDARD_NAMES, UnsupportedContentType, check_input, content_id, describe, event_headers, is_json,
)
from tests.fixtures.hostile_tickets import encode, ticket
from tests.fixtures.inprocess_worker import AckingStream, in_process_worker, raw_event

EXAMPLES = Path(str(resources.files("schemas"))) / "examples"
#: Each event's current version: what its model writes by default.
VERSIONS = {name: model.model_fields["schema_version"].default for name, model in MODELS.items()}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_event_gets_the_standard_headers_from_its_own_contract(path):
    name = path.parent.name
    event = MODELS[name].model_validate_json(path.read_bytes())
    value = event.to_json_bytes()
    headers = describe(event_headers(event, value, component="test"))
    assert set(STANDARD_NAMES) <= headers.keys()
    assert (headers["schema_name"], headers["schema_version"]) == (name, event.schema_version)
    assert headers["ce_dataschema"] == f"urn:ticket-classifier:schemas:{name}:v{event.schema_version}"
    # an example may be an older version (still valid); a new event is at the current one
    assert int(event.schema_version) <= int(VERSIONS[name])
    assert headers["ce_id"] == (getattr(event, "event_id", None) or content_id(value))
    assert headers["ce_source"] == "/ticket-classifier/test" and headers["ce_type"] == f"ticket-classifier.{name}"
    assert headers["ce_time"].startswith(str(getattr(event, {"ticket_event": "created_at", "feedback_event": "at",
                                                             "classified_event": "processed_at", "shadow_classified_event": "processed_at",
                                                             "dead_letter_event": "failed_at"}[name]).year))
    assert event_headers(event, value, component="test") == event_headers(event, value, component="test")


@pytest.mark.parametrize(("content_type", "ok"), [
    ("application/json", True), ("Application/JSON; charset=UTF-8", True), ('application/json;charset="utf-8"', True),
    ("application/vnd.tickets+json", True), ("application/json; charset=latin-1", False), ("text/plain", False),
    ("application/avro", False), ("application/cloudevents+json", False), ("", False)])
def test_only_json_content_types_are_accepted(content_type, ok):
    assert is_json(content_type) is ok
    headers = [("content-type", content_type.encode())]
    if ok:
        assert check_input(headers) is None
    else:
        with pytest.raises(UnsupportedContentType) as caught:
            check_input(headers)
        assert caught.value.error_code == "unsupported_content_type" and "not JSON" in caught.value.reason


def test_headers_are_optional_and_ce_id_is_read_when_present():
    assert check_input(None) is None and check_input([]) is None
    assert check_input([("ce_id", b"abc"), ("Content-Type", b"application/json")]) == "abc"
    assert check_input({"ce_id": b"from-a-mapping"}) == "from-a-mapping"


def test_the_worker_writes_headers_and_dead_letters_a_record_that_is_not_json_by_its_header(worker_predictor):
    good = encode(ticket("hdr-good", "vpn keeps disconnecting"))
    with ThreadPoolExecutor(1) as executor:
        worker = in_process_worker(worker_predictor, executor)
        events = [raw_event(good, 0, key=b"hdr-good", headers=[("content-type", b"application/json")]),
                  raw_event(good, 1, key=b"hdr-avro", headers=[("content-type", b"application/avro")]),
                  raw_event(good, 2, key=b"hdr-none")]
        from stream.worker.agents import BatchHandler

        asyncio.run(BatchHandler(worker).handle(AckingStream(), events))
    classified, dlq = worker.topics.classified, worker.topics.dlq
    assert len(classified.records) == 2 and len(dlq.records) == 1  # no header is fine; a wrong one is not
    for (key, value), headers in zip(classified.records, classified.headers):
        names = describe(headers)
        assert names["schema_version"] == CLASSIFIED_SCHEMA_VERSION and names["ce_id"] == json.loads(value)["event_id"]
    (key, value), headers = dlq.records[0], dlq.headers[0]
    letter = json.loads(value)
    assert key == b"hdr-avro" and letter["error_code"] == "unsupported_content_type"
    assert letter["headers"] == [{"key": "content-type", "value_base64": "YXBwbGljYXRpb24vYXZybw=="}]
    assert describe(headers)["dlq_error_code"] == "unsupported_content_type"
    assert worker.metrics.dead_lettered.labels(reason="unsupported_content_type")._value.get() == 1
