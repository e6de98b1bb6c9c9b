"""Multi-label versions at inference: one probability per label, a label set per ticket.

A version's manifest says which task it was trained for (``task``; absent means
``single_label``, every version trained before multi-label existed). A multi-label
version scores each label independently (one binary LightGBM booster per label
on the same feature blocks as a single-label version) and keeps every label whose
probability reaches that label's threshold. The contract with consumers:

- ``Prediction.label_scores``: every label with its probability, highest first;
- ``Prediction.labels``: the predicted set, the labels at or above their own
  threshold, highest first (possibly empty);
- ``Prediction.category`` is the top label of the set, so single-label
  consumers keep working; with an empty set it is the most probable label and
  ``needs_human`` is true (the model is sure of no label).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator

SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"
TASKS = (SINGLE_LABEL, MULTI_LABEL)
#: The per-label boosters of a multi-label version, in label order (replaces ``booster.txt``).
LABEL_BOOSTERS = "label_boosters.json"
#: How a ticket's label set is written as one string (training frames, reference tickets).
JOIN = "|"


def task_of(manifest: dict) -> str:
    """The manifest's task; a value this code does not know is an error, absence is single-label."""
    task = manifest.get("task") or SINGLE_LABEL
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (this code knows {', '.join(TASKS)})")
    return task


def split_labels(value: str) -> list[str]:
    """A joined label set back into its labels (empty string: no label)."""
    return [label for label in value.split(JOIN) if label] if value else []


class LinearScores(BaseEstimator):
    """One linear scorer per label, stacked: ``decision_function`` gives (n, n_labels) margins.

    Training fits one-vs-rest LinearSVCs and keeps only their weights, so the
    lexical block of a multi-label version has the same ``coef_`` layout the
    evidence code reads for single-label versions (one row per label). It is the
    last step of the lexical pipeline, hence a (fitted-on-creation) estimator.
    """

    def __init__(self, coef, intercept):
        self.coef = coef
        self.intercept = np.asarray(intercept, dtype=np.float32)

    @property
    def coef_(self):
        return self.coef

    @property
    def intercept_(self) -> np.ndarray:
        return self.intercept

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y=None):
        raise TypeError("LinearScores is built from fitted weights (training/multilabel/fit.py), not fit")

    def decision_function(self, X) -> np.ndarray:
        scores = X @ self.coef.T  # sparse TF-IDF rows or dense vectors: a dense (n, n_labels) array
        return np.asarray(scores, dtype=np.float32).reshape(X.shape[0], -1) + self.intercept


class LabelBoosters:
    """A binary booster per label; :meth:`predict` gives (n, n_labels) independent probabilities."""

    def __init__(self, labels: Sequence[str], boosters: Sequence):
        if len(labels) != len(boosters):
            raise ValueError(f"{len(boosters)} boosters for {len(labels)} labels")
        self.labels = list(labels)
        self.boosters = list(boosters)

    def num_model_per_iteration(self) -> int:
        return 1 if all(b.num_model_per_iteration() == 1 for b in self.boosters) else 0

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        return np.stack([np.asarray(b.predict(X), dtype=np.float64) for b in self.boosters], axis=1)

    def save(self, path: Path) -> None:
        models = {label: b.model_to_string(num_iteration=b.best_iteration or None)
                  for label, b in zip(self.labels, self.boosters)}
        Path(path).write_text(json.dumps({"format": "label_boosters/1", "labels": self.labels,
                                          "models": [models[label] for label in self.labels]}))

    @classmethod
    def load(cls, path: Path) -> "LabelBoosters":
        import lightgbm as lgb

        spec = json.loads(Path(path).read_text())
        if spec.get("format") != "label_boosters/1":
            raise ValueError(f"unknown format {spec.get('format')!r}")
        return cls(spec["labels"], [lgb.Booster(model_str=text) for text in spec["models"]])


def ranked(row: np.ndarray, labels: Sequence[str]) -> list[tuple[str, float]]:
    """Every label with its probability, highest first (ties keep label order)."""
    order = np.argsort(-row, kind="stable")
    return [(labels[i], float(row[i])) for i in order]


def label_sets(proba: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]) -> list[list[str]]:
    """Per row, the labels at or above their threshold (label order)."""
    cut = np.array([thresholds[label] for label in labels])
    return [[labels[i] for i in np.flatnonzero(row >= cut)] for row in proba]


def indicator(sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """Label sets as a (n, n_labels) 0/1 matrix; labels outside ``labels`` are ignored."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(sets), len(labels)), dtype=np.int8)
    for row, names in enumerate(sets):
        for name in names:
            if name in index:
                out[row, index[name]] = 1
    return out
