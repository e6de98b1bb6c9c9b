"""Per-label thresholds for a target precision, chosen on validation rows.

For each label, the rows are ranked by that label's probability; the threshold
keeps the most rows carrying the label (recall) while the share of rows above it
that truly carry it stays at ``thresholds.label_target_precision`` or more; of
the thresholds that do, the highest. A label that never reaches the target is never predicted
(threshold above 1) and says so; a label with too few validation positives to
measure keeps 0.5.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..thresholds import NEVER

UNMEASURED = 0.5


@dataclass(frozen=True)
class LabelThreshold:
    label: str
    threshold: float
    precision: float        # on validation rows at or above the threshold
    recall: float           # share of the validation rows carrying the label that are kept
    support: int            # validation rows carrying the label
    reached_target: bool


def choose_label_thresholds(proba: np.ndarray, Y: np.ndarray, labels: list[str], target: float,
                            min_support: int) -> list[LabelThreshold]:
    out = []
    for j, label in enumerate(labels):
        p, truth = proba[:, j], Y[:, j].astype(np.float64)
        support = int(truth.sum())
        if support < min_support:
            kept = p >= UNMEASURED
            prec = float(truth[kept].mean()) if kept.any() else 0.0
            rec = float(truth[kept].sum() / support) if support else 0.0
            out.append(LabelThreshold(label, UNMEASURED, prec, rec, support, False))
            continue
        order = np.argsort(-p, kind="stable")
        p_sorted, hits = p[order], np.cumsum(truth[order])
        precision_at = hits / np.arange(1, len(p) + 1)
        # Only cut where the next row has a lower probability: a threshold keeps all its ties.
        cuttable = np.append(p_sorted[1:] < p_sorted[:-1], True)
        ok = np.flatnonzero((precision_at >= target) & cuttable & (hits > 0))
        if not len(ok):
            out.append(LabelThreshold(label, NEVER, float(precision_at[0]), 0.0, support, False))
            continue
        # The most recall the target allows, at the highest threshold that gets it: going lower past the
        # last hit would only add false positives while precision stays above the target.
        i = int(ok[hits[ok] == hits[ok].max()].min())
        out.append(LabelThreshold(label, float(p_sorted[i]), float(precision_at[i]), float(hits[i] / support),
                                  support, True))
    return out


def as_mapping(thresholds: list[LabelThreshold]) -> dict[str, float]:
    # rounded down: a rounded-up threshold would drop the validation row it was read from
    return {t.label: float(np.floor(t.threshold * 1e6) / 1e6) for t in thresholds}


def as_rows(thresholds: list[LabelThreshold]) -> list[dict]:
    return [asdict(t) for t in thresholds]
