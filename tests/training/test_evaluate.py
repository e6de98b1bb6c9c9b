"""Metrics: headline numbers checked against a hand-worked example and scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from training.evaluate import compute_metrics, format_report, slice_metrics

LABELS = ["a", "b", "c"]
PROBA = np.array([
    [0.7, 0.2, 0.1],   # true a, top1 a
    [0.5, 0.4, 0.1],   # true b, top1 a, top2 b
    [0.1, 0.3, 0.6],   # true c, top1 c
    [0.2, 0.5, 0.3],   # true a, top1 b, top2 c → miss at 2
])
Y = ["a", "b", "c", "a"]
ABSTAIN = [False, True, False, False]


def test_headline_metrics():
    m = compute_metrics(Y, PROBA, LABELS, ABSTAIN)
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["precision_at_2"] == pytest.approx(0.75)
    assert m["coverage"] == pytest.approx(0.75)
    assert m["precision_when_not_abstained"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx(f1_score([0, 1, 2, 0], PROBA.argmax(1), average="macro"))
    assert m["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["a"]["coverage"] == pytest.approx(0.5)
    assert set(m) >= {"macro_precision", "weighted_precision"}


def test_slices_and_report():
    texts = ["short one", "w " * 200, "medium " * 30, "tiny"]
    s = slice_metrics(texts, Y, PROBA, LABELS, ABSTAIN)
    assert s["length:short(<=15w)"]["n"] == 2 and s["length:long(>=100w)"]["n"] == 1
    assert s["category:a"]["n"] == 2 and s["category:a"]["accuracy"] == pytest.approx(0.5)
    report = format_report(compute_metrics(Y, PROBA, LABELS, ABSTAIN))
    assert "accuracy" in report and "precision@2" in report and " 50.00 %" in report


def test_labels_unknown_to_the_model_count_as_errors():
    m = compute_metrics(["a", "zzz"], PROBA[:2], LABELS, [False, False])
    assert m["unknown_labels"] == 1 and m["accuracy"] == pytest.approx(0.5)


def test_per_language_slices_and_their_report_lines():
    texts = ["short one", "w " * 200, "medium " * 30, "tiny"]
    langs = ["en", "de", "en", "und"]
    s = slice_metrics(texts, Y, PROBA, LABELS, ABSTAIN, languages=langs)
    assert {k for k in s if k.startswith("language:")} == {"language:en", "language:de", "language:und"}
    assert s["language:en"]["n"] == 2 and s["language:en"]["accuracy"] == pytest.approx(1.0)  # rows 0 and 2
    assert s["language:de"]["accuracy"] == pytest.approx(0.0) and s["language:und"]["accuracy"] == pytest.approx(0.0)
    assert not any(k.startswith("language:") for k in slice_metrics(texts, Y, PROBA, LABELS, ABSTAIN))
    report = format_report(compute_metrics(Y, PROBA, LABELS, ABSTAIN) | {"slices": s})
    lines = report.splitlines()
    assert any(line.split()[:2] == ["en", "100.00"] for line in lines), report
