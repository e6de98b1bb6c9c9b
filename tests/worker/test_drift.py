"""Drift figures: PSI against the version's reference, exported as the worker's gauges."""
from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from schemas.models import ClassifiedEvent
from stream.inference.drift import DRIFT_REFERENCE, Observation, build_reference, psi, observation_of
from stream.worker.drift.metrics import DriftMetrics
from stream.worker.drift.monitor import DriftMonitor
from tests.fixtures.downstream import classified_event

WORDS = "my laptop will not start after the update and the screen stays black".split()


def _event(i: int, version: str = "V1", *, words: int = 12, language: str = "en", category: str = "Hardware",
           confidence: float = 0.9, similarity: float = 0.9) -> ClassifiedEvent:
    evidence = {"neighbours": [{"ticket_id": f"R{i}", "label": category, "similarity": similarity}], "terms": []}
    return ClassifiedEvent.model_validate(classified_event(
        f"D-{i}", schema_version="3", model_version=version, excerpt=" ".join((WORDS * 10)[:words]),
        language=language, category=category, confidence=confidence, needs_human=confidence < 0.5,
        evidence=evidence))


def _typical(i: int, version: str = "V1") -> ClassifiedEvent:
    """What the version was trained on: English, 8-20 words, two categories, confident, close neighbours."""
    return _event(i, version, words=8 + i % 13, category=("Hardware", "Access")[i % 2],
                  confidence=0.7 + (i % 3) / 10, similarity=0.86 + (i % 5) / 50)


@pytest.fixture
def registry(tmp_path):
    """A registry folder whose version V1 carries a reference built from typical tickets."""
    (tmp_path / "V1").mkdir()
    reference = build_reference([observation_of(_typical(i)) for i in range(400)], {"Hardware": 0.5, "Access": 0.5})
    (tmp_path / "V1" / DRIFT_REFERENCE).write_text(json.dumps(reference))
    (tmp_path / "OLD").mkdir()  # trained before references existed
    return tmp_path


def _gauges(metrics: DriftMetrics) -> dict[tuple[str, str], float]:
    out = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            out[(sample.name, sample.labels.get("feature", ""))] = sample.value
    return out


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    assert psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5]) == pytest.approx(0, abs=1e-9)
    assert psi([0.5, 0.5, 0.0], [0.45, 0.55, 0.0]) < 0.1
    assert psi([0.5, 0.5, 0.0], [0.0, 0.1, 0.9]) > 0.25


def test_traffic_like_the_reference_shows_no_drift(registry):
    monitor = DriftMonitor(DriftMetrics.create(CollectorRegistry()), registry, size=300)
    for i in range(300):
        monitor.observe(_typical(i + 1000))
    figures = monitor.publish("V1", force=True)
    assert figures["n"] == 300
    assert all(value < 0.1 for value in figures["psi"].values()), figures["psi"]
    gauges = _gauges(monitor.metrics)
    assert gauges[("tickets_drift_window_tickets", "")] == 300
    assert gauges[("tickets_drift_reference_mean", "nn_similarity")] == pytest.approx(
        gauges[("tickets_drift_live_mean", "nn_similarity")], abs=0.01)


def test_new_kind_of_traffic_moves_every_psi(registry):
    monitor = DriftMonitor(DriftMetrics.create(CollectorRegistry()), registry, size=200)
    for i in range(200):  # short German tickets, far from every training ticket, all "Storage", unsure
        monitor.observe(_event(i, words=3, language="de", category="Storage", confidence=0.35, similarity=0.72))
    monitor.publish("V1", force=True)
    gauges = _gauges(monitor.metrics)
    for feature in ("length", "language", "nn_similarity", "category", "confidence"):
        assert gauges[("tickets_drift_psi", feature)] > 0.25, feature
    assert gauges[("tickets_drift_live_mean", "abstention")] == 1.0
    assert gauges[("tickets_drift_reference_mean", "abstention")] == 0.0


def test_windows_are_per_version_and_only_the_served_one_is_exported(registry):
    monitor = DriftMonitor(DriftMetrics.create(CollectorRegistry()), registry, size=100)
    for i in range(100):
        monitor.observe(_typical(i))
        monitor.observe(_event(i, "OLD", words=3, language="de", category="Storage"))
    figures = monitor.publish("V1", force=True)
    assert figures["n"] == 100 and figures["psi"]["language"] < 0.1  # OLD's German tickets are not mixed in
    monitor.publish("OLD", force=True)  # no reference: live means only, no PSI series
    gauges = _gauges(monitor.metrics)
    assert not [k for k in gauges if k[0] == "tickets_drift_psi"]
    assert gauges[("tickets_drift_live_mean", "length")] == 3
    assert monitor.publish("OLD") is None  # throttled


def test_an_observation_without_evidence_has_no_similarity():
    event = ClassifiedEvent.model_validate(classified_event("X-1"))
    assert observation_of(event) == Observation(words=len(event.excerpt.split()), language=event.language or "und",
                                                category=event.category, confidence=event.confidence,
                                                needs_human=False, nn_similarity=None)
