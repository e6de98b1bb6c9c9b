"""Label-balanced batches, a pure function of (seed, step): a resumed run draws the same batches."""
from __future__ import annotations

import numpy as np


def group_by_label(y: np.ndarray) -> list[np.ndarray]:
    """Row indices of each label (labels are 0…n-1)."""
    return [np.flatnonzero(y == label) for label in range(int(y.max()) + 1)]


def balanced_batch(by_label: list[np.ndarray], batch_size: int, per_label: int, seed: int,
                   step: int) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, label of each row): ``per_label`` rows of each of ``batch_size // per_label`` labels.

    Labels are drawn uniformly (rare ones as often as common ones: each needs its positives), rows
    without replacement within a label unless it has fewer than ``per_label``.
    """
    rng = np.random.default_rng([seed, step])
    usable = [i for i, rows in enumerate(by_label) if len(rows) >= 2]
    n_labels = max(2, min(len(usable), batch_size // per_label))
    labels = rng.choice(usable, size=n_labels, replace=False)
    rows, row_labels = [], []
    for label in labels:
        pool = by_label[label]
        picked = rng.choice(pool, size=per_label, replace=len(pool) < per_label)
        rows.extend(picked)
        row_labels.extend([label] * per_label)
    return np.asarray(rows), np.asarray(row_labels)
