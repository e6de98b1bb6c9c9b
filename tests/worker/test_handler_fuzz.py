"""Property tests of the batch handler: whatever is on ``tickets.raw``, each record ends classified or dead-lettered.

In process, on the real model (see ``tests/fixtures/inprocess_worker.py``); ``test_poison.py`` sends the
same kinds of records through a real worker and broker.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import validate_json_schema
from tests.fixtures.hostile_tickets import cases, encode, raw_records, ticket
from tests.fixtures.inprocess_worker import handle, in_process_worker

DLQ_BOUND = 16 * 1024  # the smallest bound allowed: every cut is exercised


@pytest.fixture(scope="module")
def predictor(worker_predictor):
    return worker_predictor


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(1, thread_name_prefix="inference") as pool:
        yield pool


def _run(predictor, executor, values, **env):
    worker = in_process_worker(predictor, executor, TICKETS_DLQ_MAX_BYTES=str(DLQ_BOUND), **env)
    stream = handle(worker, values)
    return worker, stream


def _dead_letters(worker) -> dict[bytes, dict]:
    return {key: json.loads(value) for key, value in worker.topics.dlq.records}


def _check_outcomes(worker, stream, values):
    """One output per record, every output valid, every dead letter within its bound and traceable."""
    dead = _dead_letters(worker)
    classified = [json.loads(value) for _, value in worker.topics.classified.records]
    assert len(dead) + len(classified) == len(values)
    assert len(stream.acked) == len(values)
    for key, (raw_key, raw_value) in zip(dead, worker.topics.dlq.records):
        letter = dead[key]
        assert len(raw_value) <= DLQ_BOUND
        validate_json_schema("dead_letter_event", letter)
        i = int(key.decode()[1:])
        original = values[i] or b""
        assert letter["reason"].strip() and letter["offset"] == i
        assert letter["payload_bytes"] == len(original)
        assert letter["payload_sha256"] == hashlib.sha256(original).hexdigest()
    for event in classified:
        validate_json_schema("classified_event", event)
    return dead, classified


@given(st.lists(raw_records, min_size=1, max_size=6))
def test_every_record_ends_classified_or_dead_lettered(predictor, executor, values):
    worker, stream = _run(predictor, executor, values)
    _check_outcomes(worker, stream, values)


@pytest.mark.parametrize(("name", "code", "names"), [
    ("surrogate_subject", "schema_violation", "subject"),
    ("control_bytes", "invalid_json", "JSON"),
    ("year_one", "schema_violation", "created_at"),
    ("deep_nesting", "invalid_json", "nested too deeply"),
    ("deep_object", "invalid_json", "nested too deeply"),
    ("utf16", "invalid_json", "UTF-8"),
    ("utf8_bom", "invalid_json", "BOM"),
])
def test_each_case_of_the_issue_is_dead_lettered_with_its_reason(predictor, executor, name, code, names):
    good = encode(ticket("good-behind"))
    values = [cases("case")[name], good]
    worker, stream = _run(predictor, executor, values)
    dead, classified = _check_outcomes(worker, stream, values)
    assert [d["error_code"] for d in dead.values()] == [code], dead
    assert names in next(iter(dead.values()))["reason"]
    assert [e["ticket_id"] for e in classified] == ["good-behind"]


def test_control_bytes_dead_letter_is_cut_to_the_bound_with_the_original_length_and_hash(predictor, executor):
    raw = cases("case")["control_bytes"]
    worker, _ = _run(predictor, executor, [raw])
    (letter,) = _dead_letters(worker).values()
    assert letter["payload_truncated"] and letter["payload"].startswith("\x01" * 100)
    assert letter["payload_bytes"] == 200_000 and letter["payload_sha256"] == hashlib.sha256(raw).hexdigest()


class _OddModel:
    """The real predictor, with its answer for tickets mentioning ``marker`` replaced by ``category``."""

    def __init__(self, real, marker, category):
        self.real, self.marker, self.category = real, marker, category
        self.version, self.embedder_id = real.version, real.embedder_id

    def assemble(self, tickets):
        return self.real.assemble(tickets)

    def predict(self, texts):
        predictions = self.real.predict(texts)
        return [p if self.marker not in t else type(p)(self.category, p.confidence, [(self.category, p.confidence)],
                                                       p.needs_human)
                for p, t in zip(predictions, texts)]


@pytest.mark.parametrize(("category", "reason"), [
    ("Printer \ud800", "the ClassifiedEvent"),          # a label that cannot be encoded
    ("", "could not build the ClassifiedEvent"),         # fails the ClassifiedEvent model
])
def test_an_event_that_cannot_be_built_or_serialised_is_dead_lettered_alone(predictor, executor, category, reason):
    odd = _OddModel(predictor, "zebra", category)
    values = [encode(ticket("odd", "zebra printer jammed")), encode(ticket("fine", "vpn is down again"))]
    worker, stream = _run(odd, executor, values)
    dead, classified = _check_outcomes(worker, stream, values)
    assert [(d["error_code"], reason in d["reason"]) for d in dead.values()] == [("processing_failed", True)]
    assert [e["ticket_id"] for e in classified] == ["fine"]


def test_an_event_that_fails_to_serialise_becomes_a_dead_letter_not_a_crash(predictor, executor):
    from schemas import ClassifiedEvent
    from stream.worker.agents import BatchHandler
    from tests.fixtures.inprocess_worker import raw_event

    worker = in_process_worker(predictor, executor)
    unencodable = ClassifiedEvent.model_construct(ticket_id="t", subject="printer \ud800 help")
    bad = BatchHandler(worker)._classified(raw_event(b"{}", 0), unencodable)
    assert bad.error_code == "processing_failed" and "could not serialise the ClassifiedEvent" in bad.reason


def test_no_ticket_text_or_secret_is_logged_at_info_or_above(predictor, executor, caplog):
    """Logs carry ids, codes and counts: a ticket's words and a password never reach INFO (message or extras)."""
    import logging

    from tests.fixtures.logs import rendered

    secret = "sasl-pw-never-logged-7319"
    words = ["zebracorn", "quixotically", "flabbergasted"]
    values = [encode(ticket("T-LOG-1", text=f"my {words[0]} laptop screen is broken")),
              encode(ticket("T-LOG-2", text=" ".join(words[1:]), subject=f"{words[1]} subject")),
              encode(ticket("T-LOG-3", text=f"{words[2]} " * 40, language="not a language tag at all")),
              b'{"ticket_id": "T-LOG-4", "messages": "' + words[0].encode() + b'"}']
    with caplog.at_level(logging.DEBUG, logger="stream"):
        worker, _ = _run(predictor, executor, values, TICKETS_KAFKA_SASL_PASSWORD=secret)
    shown = rendered(caplog.records, logging.INFO) + json.dumps(worker.settings.redacted())
    assert caplog.records, "the handler logged nothing: the test is not looking at the right logger"
    assert secret not in shown
    assert not [w for w in words if w in shown], shown
