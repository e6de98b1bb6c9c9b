"""Multi-label metrics, thresholds, label sets and rare labels, checked against scikit-learn on known inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, hamming_loss, precision_score, recall_score

from training.multilabel.labels import drop_rare_labels, label_matrix, split_rows
from training.multilabel.metrics import compute_multilabel_metrics, precision_at_k
from training.multilabel.thresholds import as_mapping, choose_label_thresholds
from training.prepare import label_set
from training.thresholds import NEVER

LABELS = ["a", "b", "c"]


def _random_case(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 3)) < [0.5, 0.3, 0.1]).astype(int)
    proba = np.clip(0.6 * Y + 0.5 * rng.random((n, 3)), 0, 1)
    thresholds = {"a": 0.5, "b": 0.4, "c": 0.7}
    sets = [[LABELS[j] for j in np.flatnonzero(row)] for row in Y]
    return Y, proba, thresholds, sets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_set_metrics_match_scikit_learn(seed):
    Y, proba, thresholds, sets = _random_case(seed)
    P = (proba >= np.array([thresholds[k] for k in LABELS])).astype(int)
    m = compute_multilabel_metrics(sets, proba, LABELS, thresholds)
    assert m["micro_f1"] == pytest.approx(f1_score(Y, P, average="micro", zero_division=0))
    assert m["macro_f1"] == pytest.approx(f1_score(Y, P, average="macro", zero_division=0))
    assert m["micro_precision"] == pytest.approx(precision_score(Y, P, average="micro", zero_division=0))
    assert m["micro_recall"] == pytest.approx(recall_score(Y, P, average="micro", zero_division=0))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(Y, P))
    assert m["subset_accuracy"] == pytest.approx(np.mean([(y == p).all() for y, p in zip(Y, P)]))
    for j, label in enumerate(LABELS):
        row = m["per_label"][label]
        assert row["precision"] == pytest.approx(precision_score(Y[:, j], P[:, j], zero_division=0))
        assert row["recall"] == pytest.approx(recall_score(Y[:, j], P[:, j], zero_division=0))
        assert row["support"] == Y[:, j].sum() and row["threshold"] == thresholds[label]


def test_precision_at_k_by_hand():
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    proba = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.9]])
    # row 0: top-1 a (hit), top-2 a,b (1 of 2); row 1: top-1 c (miss), top-2 c,b (1 of 2)
    assert precision_at_k(Y, proba, 1) == pytest.approx(0.5)
    assert precision_at_k(Y, proba, 2) == pytest.approx(0.5)
    assert precision_at_k(Y, proba, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_unknown_true_labels_are_counted_not_scored():
    m = compute_multilabel_metrics([["a", "zzz"], ["b"]], np.array([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1]]), LABELS,
                                   {k: 0.5 for k in LABELS})
    assert m["unknown_labels"] == 1 and m["micro_f1"] == 1.0 and m["subset_accuracy"] == 1.0


def test_thresholds_reach_the_target_precision_with_the_most_recall():
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    truth = np.array([1, 1, 0, 1, 1, 0, 0, 1, 0, 0])
    rows = choose_label_thresholds(p[:, None], truth[:, None], ["a"], target=0.75, min_support=2)
    # precision of the top-i: 1, 1, .67, .75, .8, .67, .57, .63, …: the largest prefix at >= .75 is 5 rows
    assert rows[0].threshold == pytest.approx(0.6) and rows[0].precision == pytest.approx(0.8)
    assert rows[0].recall == pytest.approx(4 / 5) and rows[0].reached_target
    never = choose_label_thresholds(p[:, None], 1 - truth[:, None], ["a"], target=0.99, min_support=2)[0]
    assert never.threshold == NEVER and not never.reached_target
    assert as_mapping(rows)["a"] <= 0.6  # rounded down: the row the threshold was read from stays in


def test_label_cells_become_one_sorted_set():
    assert label_set(["b| a ", "c|a"], "|", None) == ("a|b|c", None)
    assert label_set([" ; ", None], ";", None) == (None, "missing_label")
    assert label_set(["x;y"], ";", {"y"}) == ("y", None)
    assert label_set(["x"], "|", {"y"}) == (None, "unknown_label")


def test_rare_labels_are_dropped_and_reported_rows_kept():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(14)],
                          "label": ["a|rare"] * 2 + ["a"] * 10 + ["rare"] + ["b"]})
    kept, report = drop_rare_labels(frame, min_count=5)
    assert report.dropped == {"b": 1, "rare": 3} and report.rows_left_empty == 2
    assert len(kept) == 14 and set(kept["label"]) == {"a", ""}
    assert "2 labels under 5 examples dropped" in report.summary()
    labels, Y = label_matrix(kept)
    assert labels == ["a"] and Y.sum() == 12


def test_the_split_puts_a_rare_label_on_both_sides():
    Y = np.zeros((100, 2), dtype=int)
    Y[:, 0] = 1
    Y[::10, 1] = 1  # 10 rows carry the rare label
    train, test = split_rows(Y, 0.2, seed=0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 100
    assert Y[test, 1].sum() == 2 and Y[train, 1].sum() == 8


def test_a_separable_label_gets_the_threshold_of_its_last_positive_not_of_the_target():
    p = np.array([0.99, 0.98, 0.97, 0.2, 0.1, 0.05])
    truth = np.array([1, 1, 1, 0, 0, 0])
    (row,) = choose_label_thresholds(p[:, None], truth[:, None], ["a"], target=0.5, min_support=2)
    assert row.threshold == pytest.approx(0.97) and row.precision == 1.0 and row.recall == 1.0
