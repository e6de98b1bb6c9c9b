"""Label sets of the training rows: the 0/1 matrix, rare labels, and a split that keeps rare labels in each part.

A prepared multi-label frame holds each row's set as one sorted ``|``-joined
string in ``label`` (see training/prepare.py). A label with fewer than
``data.min_class_count`` rows cannot be split into fit, validation and test
rows nor get a threshold, so it is dropped from every set and reported with its
count, as training/rare.py does for single-label categories. A row left with no
label stays: it is a ticket that none of the learned labels describe, a negative
for every one of them.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stream.inference.multilabel import JOIN, indicator, split_labels

from ..split import stratified_split

log = logging.getLogger(__name__)


@dataclass
class RareLabels:
    """Labels dropped for being under the minimum count (empty when none were)."""

    min_count: int
    dropped: dict[str, int] = field(default_factory=dict)   # label → rows that carried it
    rows_left_empty: int = 0                                # rows whose every label was dropped

    def as_dict(self) -> dict:
        return {"min_class_count": self.min_count, "labels_dropped": len(self.dropped),
                "dropped": dict(self.dropped), "rows_left_without_label": self.rows_left_empty}

    def summary(self) -> str | None:
        """One line for the CLI and the model card, None when nothing was rare."""
        if not self.dropped:
            return None
        shown = sorted(self.dropped.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"{k} ({v})" for k, v in shown[:12]) + (", …" if len(shown) > 12 else "")
        return (f"{len(self.dropped)} label{'s' * (len(self.dropped) != 1)} under {self.min_count} examples dropped "
                f"({sum(self.dropped.values())} assignments; {self.rows_left_empty} rows left with no "
                f"label, kept as negatives): {listed}")


def label_counts(frame: pd.DataFrame) -> Counter:
    return Counter(label for value in frame["label"] for label in split_labels(value))


def drop_rare_labels(frame: pd.DataFrame, min_count: int) -> tuple[pd.DataFrame, RareLabels]:
    """``frame`` with the rare labels removed from every set, and the report of what went."""
    counts = label_counts(frame)
    rare = {label for label, n in counts.items() if n < min_count}
    report = RareLabels(min_count=min_count, dropped={k: int(counts[k]) for k in sorted(rare)})
    if rare:
        kept = [JOIN.join(label for label in split_labels(value) if label not in rare) for value in frame["label"]]
        report.rows_left_empty = sum(1 for old, new in zip(frame["label"], kept) if old and not new)
        frame = frame.assign(label=kept)
        log.warning("rare labels", extra={"summary": report.summary()})
    return frame, report


def label_matrix(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """(sorted label names, the (rows, labels) 0/1 matrix)."""
    sets = [split_labels(value) for value in frame["label"]]
    labels = sorted({label for names in sets for label in names})
    return labels, indicator(sets, labels)


def rarest_label(Y: np.ndarray) -> np.ndarray:
    """Per row, its rarest label (one more than the last label for a row without any): a split key."""
    freq = Y.sum(axis=0).astype(np.float64)
    masked = np.where(Y == 1, freq[None, :], np.inf)
    return np.where(Y.any(axis=1), masked.argmin(axis=1), Y.shape[1])


def split_rows(Y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A split stratified on each row's rarest label, so rare labels land on both sides."""
    key = rarest_label(Y)
    counts = np.bincount(key)
    key = np.where(counts[key] < 2, counts.argmax(), key)  # a singleton key would turn stratification off
    train, test = stratified_split(len(Y), key, test_size, seed)
    return np.sort(train), np.sort(test)
