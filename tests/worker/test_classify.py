"""Decoding, event building and batch inference (with retries), on a real trained model."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest

from schemas import validate_json_schema
from stream.config import Settings
from stream.exceptions import BadTicket
from stream.worker.live_model import load_predictor
from stream.worker.classify import Classifier, event_id, excerpt
from stream.worker.decode import decode_ticket, parse_ticket, text_ticket

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "ticket_event"


@pytest.mark.parametrize(("raw", "code", "names"), [
    (b'{"ticket_id": ', "invalid_json", "not valid JSON"),
    (b"\xff\xfe{}", "invalid_json", "UTF-8"),
    (None, "invalid_json", "tombstone"),
    (b'"a string"', "schema_violation", "<root>"),
    (b'{"schema_version": "1", "ticket_id": "t", "source": "chat", "messages": [], '
     b'"created_at": "2026-11-24T09:00:00Z"}', "schema_violation", "messages"),
    (b'{"schema_version": "1", "ticket_id": "t", "source": "chat", "messages": [{"role": "requester", '
     b'"text": "x"}], "created_at": "not a date"}', "schema_violation", "created_at"),
    (b"{" + b" " * 2000 + b"}", "payload_too_large", "2002 bytes"),
])
def test_decode_ticket_names_what_is_wrong(raw, code, names):
    with pytest.raises(BadTicket) as bad:
        decode_ticket(raw, max_payload_bytes=1000)
    assert bad.value.error_code == code and names in bad.value.reason


def test_examples_decode():
    for path in EXAMPLES.glob("*.json"):
        assert decode_ticket(path.read_bytes(), 10_000).ticket_id


def test_event_id_is_deterministic_and_sensitive_to_each_part():
    base = event_id("T-1", "v1", "vpn down")
    assert base == event_id("T-1", "v1", "vpn down") and len(base) == 32
    assert len({base, event_id("T-2", "v1", "vpn down"), event_id("T-1", "v2", "vpn down"),
                event_id("T-1", "v1", "vpn up")}) == 4


def test_excerpt_is_bounded_and_keeps_masks_whole():
    text = ("please reset [MASKED] account " * 40).strip()
    cut = excerpt(text)
    assert len(cut) <= 280 and cut.endswith("…")
    assert "[MAS" not in cut.replace("[MASKED]", "")
    assert excerpt("short [MASKED] text") == "short [MASKED] text"


@pytest.fixture(scope="module")
def predictor(trained_registry, e5_embedders_root):
    registry, version = trained_registry
    settings = Settings.from_env({"TICKETS_REGISTRY_DIR": str(registry),
                                  "TICKETS_EMBEDDER_DIR": str(e5_embedders_root)})
    return load_predictor(registry / version, settings)


@pytest.fixture(scope="module")
def full_predictor(trained_registry, e5_embedders_root):
    """Every ticket embedded (``TICKETS_SHORTCUT=false``): clear tickets like these would otherwise take the
    lexical shortcut and skip the embedding stages (tests/inference/test_shortcut.py)."""
    registry, version = trained_registry
    settings = Settings.from_env({"TICKETS_REGISTRY_DIR": str(registry), "TICKETS_SHORTCUT": "false",
                                  "TICKETS_EMBEDDER_DIR": str(e5_embedders_root)})
    return load_predictor(registry / version, settings)


class _Holder:
    def __init__(self, predictor):
        self.predictor = predictor


class FlakyPredictor:
    """The real predictor, made to fail the first ``failures`` predict calls or on a poison text."""

    def __init__(self, real, failures=0, poison=None):
        self.real, self.failures, self.poison, self.calls = real, failures, poison, 0
        self.version, self.embedder_id = real.version, real.embedder_id

    def assemble(self, tickets):
        return self.real.assemble(tickets)

    def predict(self, texts):
        self.calls += 1
        if self.calls <= self.failures or (self.poison and any(self.poison in t for t in texts)):
            raise RuntimeError("onnxruntime: simulated failure")
        return self.real.predict(texts)


def _tickets(*texts):
    now = datetime.now(timezone.utc).isoformat()
    return [parse_ticket(text_ticket({"text": t, "ticket_id": f"T-{i}", "created_at": now}))
            for i, t in enumerate(texts)]


def _classify(predictor, tickets, retries=2):
    with ThreadPoolExecutor(1) as executor:
        classifier = Classifier(_Holder(predictor), executor, retries=retries, retry_backoff_s=0.01)
        return asyncio.run(classifier.classify(tickets))


def test_batch_gives_one_valid_event_per_ticket_and_flags_empty_text(predictor):
    tickets = _tickets("cannot log in to vpn, password expired", "   ", "need a new laptop charger")
    results, seconds = _classify(predictor, tickets)
    assert seconds > 0
    assert isinstance(results[1], BadTicket) and results[1].error_code == "empty_text"
    for ticket, result in zip([tickets[0], tickets[2]], [results[0], results[2]]):
        assert result.ticket_id == ticket.ticket_id and result.model_version == predictor.version
        validate_json_schema("classified_event", json.loads(result.model_dump_json()))
        assert result.category in predictor.labels and 0 <= result.confidence <= 1
        assert result.needs_human == (result.confidence < predictor.thresholds[result.category])


def test_transient_failures_are_retried(predictor):
    flaky = FlakyPredictor(predictor, failures=2)
    results, _ = _classify(flaky, _tickets("printer is jammed", "add me to the finance share"), retries=2)
    assert flaky.calls == 3 and not any(isinstance(r, BadTicket) for r in results)


def test_a_poison_ticket_is_dead_lettered_alone_after_the_retries(predictor):
    flaky = FlakyPredictor(predictor, poison="poison")  # texts are lower-cased by cleaning
    results, _ = _classify(flaky, _tickets("printer is jammed", "POISON ticket", "vpn is down"), retries=1)
    assert [type(r).__name__ for r in results] == ["ClassifiedEvent", "BadTicket", "ClassifiedEvent"]
    assert results[1].error_code == "inference_failed" and "simulated failure" in results[1].reason


def test_the_same_ticket_gets_the_same_answer_as_the_predictor(predictor):
    tickets = [parse_ticket(json.loads(p.read_text())) for p in sorted(EXAMPLES.glob("*.json"))]
    results, _ = _classify(predictor, tickets)
    direct = predictor.classify_tickets(tickets)
    assert [r.category for r in results] == [d.category for d in direct]


def test_events_carry_the_producer_s_language_or_the_detected_one(predictor):
    now = datetime.now(timezone.utc).isoformat()

    def ticket(ticket_id, text, lang=None):
        doc = text_ticket({"text": text, "ticket_id": ticket_id, "created_at": now})
        return parse_ticket(doc | ({"language": lang} if lang else {}))

    tickets = [ticket("sent", "my printer on floor 3 is jammed again, please send someone", "de-DE"),
               ticket("de", "Hallo, mein Drucker im dritten Stock druckt seit heute Morgen nicht mehr."),
               ticket("short", "vpn?"),
               ticket("other", "プリンターが動きません。三階のプリンターです。", "ja")]
    results, _ = _classify(predictor, tickets)
    assert [r.language for r in results] == ["de", "de", "und", "ja"]
    for result in results:
        assert result.schema_version == "4" and result.labels is None  # a single-label version
        validate_json_schema("classified_event", json.loads(result.model_dump_json()))


def test_events_carry_the_prediction_s_evidence(full_predictor):
    tickets = _tickets("my laptop screen is broken, please replace it", "vpn keeps disconnecting at home")
    results, _ = _classify(full_predictor, tickets)
    for event, direct in zip(results, full_predictor.classify_tickets(tickets)):
        assert event.evidence.model_dump() == direct.evidence.as_dict()
        assert len(event.evidence.neighbours) == 3  # terms may be none: no word of the text pushed the class
        validate_json_schema("classified_event", json.loads(event.model_dump_json()))
    assert "laptop" in results[0].evidence.terms


def test_a_batch_reports_the_cpu_of_each_stage(full_predictor):
    from stream.inference.stages import INFERENCE_STAGES, StageClock

    clock = StageClock()
    tickets = _tickets("cannot log in to vpn, password expired " * 20, "need a new laptop charger")
    with ThreadPoolExecutor(1) as executor:
        classifier = Classifier(_Holder(full_predictor), executor)
        results, _ = asyncio.run(classifier.classify(tickets, clock))
    assert not any(isinstance(r, BadTicket) for r in results)
    expected = {"clean", "tokenize", "embed", "knn", "lexical", "booster", "serialise"} & (
        set(INFERENCE_STAGES) | {"serialise"})
    assert expected <= clock.cpu.keys(), clock.cpu
    assert all(v >= 0 for v in clock.cpu.values())
    # the embedding of two tickets does real work; the stages outside a clock cost nothing
    assert clock.cpu["embed"] > 0 and clock.wall["embed"] > 0


def test_a_multi_label_version_fills_the_label_set_and_keeps_its_top_label_as_the_category(
        multilabel_registry, e5_embedders_root):
    import csv

    from tests.fixtures.models import MULTILABEL_DATA

    registry, version = multilabel_registry
    settings = Settings.from_env({"TICKETS_REGISTRY_DIR": str(registry),
                                  "TICKETS_EMBEDDER_DIR": str(e5_embedders_root), "TICKETS_EMBED_MAX_TOKENS": "128"})
    predictor = load_predictor(registry / version, settings)
    with open(MULTILABEL_DATA, newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)][:16]
    tickets = _tickets(*texts, "zzzz qqqq")  # words the model never saw: likely no label at all
    results, _ = _classify(predictor, tickets)
    direct = predictor.classify_tickets(tickets)
    for result, prediction in zip(results, direct):
        assert result.schema_version == "4" and result.model_version == version
        assert [(item.label, item.probability) for item in result.labels] == \
            [(label, pytest.approx(p)) for label, p in prediction.labels]
        assert all(item.probability >= predictor.thresholds[item.label] for item in result.labels)
        assert result.needs_human == (result.labels == [])
        assert result.category == (result.label_names or [prediction.label_scores[0][0]])[0]
        validate_json_schema("classified_event", json.loads(result.model_dump_json()))
    assert any(len(result.labels) >= 2 for result in results)  # the fixture's tickets carry 1-3 labels
