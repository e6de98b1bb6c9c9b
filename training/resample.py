"""Rebalancing of the booster's training rows (imbalanced-learn).

Only ever applied to the rows the booster fits on: validation rows (early
stopping, thresholds) and test rows keep the real class distribution, or the
reported precision would describe a world that does not exist.
"""
from __future__ import annotations

import logging

import numpy as np

from .config import ResampleConfig

log = logging.getLogger(__name__)


def resample(X: np.ndarray, y: np.ndarray, cfg: ResampleConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Undersample classes above ``undersample_cap``, then SMOTE classes below ``smote_target``."""
    if cfg.undersample_cap is None and cfg.smote_target is None:
        return X, y
    from imblearn.over_sampling import SMOTE
    from imblearn.under_sampling import RandomUnderSampler

    before = np.bincount(y)
    if cfg.undersample_cap is not None:
        counts = np.bincount(y)
        strategy = {c: int(cfg.undersample_cap) for c in range(len(counts)) if counts[c] > cfg.undersample_cap}
        if strategy:
            X, y = RandomUnderSampler(sampling_strategy=strategy, random_state=seed).fit_resample(X, y)
    if cfg.smote_target is not None:
        counts = np.bincount(y)
        grow = {c: int(cfg.smote_target) for c in range(len(counts)) if 0 < counts[c] < cfg.smote_target}
        if grow:
            k = max(1, min(cfg.smote_k_neighbors, int(min(counts[c] for c in grow)) - 1))
            X, y = SMOTE(sampling_strategy=grow, k_neighbors=k, random_state=seed).fit_resample(X, y)
    log.info("resampled training rows per class", extra={"before": before.tolist(), "after": np.bincount(y).tolist()})
    return np.asarray(X, dtype=np.float32), y
