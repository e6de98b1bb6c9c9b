"""Per-class decision thresholds for a target precision, chosen on validation data.

For each class, among validation rows whose top prediction is that class, the
threshold is the lowest top-probability at which precision reaches the target;
below it the ticket is flagged ``needs_human``. A class that never reaches the
target gets a threshold above 1 (always ask a human), and says so in the table.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .config import ThresholdConfig

NEVER = 1.01  # above any probability: the class always abstains


@dataclass(frozen=True)
class ClassThreshold:
    category: str
    threshold: float
    precision: float        # on validation rows above the threshold
    coverage: float         # share of this class's top-1 predictions kept
    support: int            # validation rows predicted as this class
    reached_target: bool


def choose_thresholds(proba: np.ndarray, y_true: np.ndarray, labels: list[str],
                      cfg: ThresholdConfig) -> list[ClassThreshold]:
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    out = []
    for c, label in enumerate(labels):
        mask = pred == c
        n = int(mask.sum())
        if n < cfg.min_support:
            prec = float((y_true[mask] == c).mean()) if n else 0.0
            out.append(ClassThreshold(label, 0.0, prec, 1.0 if n else 0.0, n, False))
            continue
        order = np.argsort(-conf[mask], kind="stable")
        c_sorted = conf[mask][order]
        correct = (y_true[mask][order] == c).astype(np.float64)
        precision_at = np.cumsum(correct) / np.arange(1, n + 1)  # precision of the top-i most confident
        ok = np.nonzero(precision_at >= cfg.target_precision)[0]
        # Largest prefix that still meets the target; ties at the cut keep the threshold honest.
        if len(ok):
            i = int(ok.max())
            threshold = 0.0 if i == n - 1 else float(c_sorted[i])
            out.append(ClassThreshold(label, threshold, float(precision_at[i]), (i + 1) / n, n, True))
        else:
            out.append(ClassThreshold(label, NEVER, float(precision_at[0]), 0.0, n, False))
    return out


def as_mapping(thresholds: list[ClassThreshold]) -> dict[str, float]:
    return {t.category: round(t.threshold, 6) for t in thresholds}


def as_rows(thresholds: list[ClassThreshold]) -> list[dict]:
    return [asdict(t) for t in thresholds]


def write_rows_csv(path: Path, rows: list[dict]) -> None:
    """Per-class (or per-label) threshold rows as a CSV beside the version, for a reader with a spreadsheet."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
