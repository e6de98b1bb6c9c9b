"""Summaries of repeated splits: mean ± sd per system and the paired difference with its interval.

Repeated random 80/20 splits share most of their training rows, so the per-seed differences
are correlated and the plain paired t interval is too narrow. We report the corrected
resampled t interval of Nadeau & Bengio (2003): the variance of the mean difference is
``(1/n + n_test/n_train) · s²`` instead of ``s²/n``, with n − 1 degrees of freedom. A gain
counts only when this interval lies above zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    mean: float
    low: float
    high: float
    n: int

    @property
    def verdict(self) -> str:
        if self.n < 2:
            return "one split: no interval"
        return "better" if self.low > 0 else "worse" if self.high < 0 else "within noise"


def mean_sd(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return f"{values.mean():.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def paired_difference(a, b, test_fraction: float = 0.2, level: float = 0.95) -> PairedDifference:
    """Mean of ``a − b`` over seeds with the corrected resampled t interval at ``level``."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(diff)
    if n < 2:
        return PairedDifference(float(diff.mean()), math.nan, math.nan, n)
    ratio = test_fraction / (1 - test_fraction)
    se = math.sqrt((1 / n + ratio) * diff.var(ddof=1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * se
    return PairedDifference(float(diff.mean()), float(diff.mean() - half), float(diff.mean() + half), n)


def format_difference(d: PairedDifference, points: bool = True) -> str:
    scale, unit = (100, " pt") if points else (1, "")
    if d.n < 2:
        return f"{scale * d.mean:+.2f}{unit}"
    return f"{scale * d.mean:+.2f}{unit} [{scale * d.low:+.2f}, {scale * d.high:+.2f}]"
