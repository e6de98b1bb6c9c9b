"""Small exact statistics shared by the live comparison and the promotion gate.

Two models answering the same tickets are a paired design: the only tickets
that tell them apart are those where exactly one is right, so McNemar's exact
test (a binomial test on those discordant tickets) is the right test, and a
paired bootstrap gives the interval of the accuracy difference. Tickets seen by
one arm only (the split mode) are compared with independent bootstraps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_ROUNDS = 2000


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion (good at small n and near 0 or 1)."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips."""
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    p = sum(math.comb(n, i) for i in range(tail + 1)) / 2 ** n
    return min(1.0, 2 * p)


@dataclass(frozen=True)
class PairedTest:
    """Challenger vs champion on the same tickets: who is right where they differ."""

    n: int
    champion_only: int     # champion right, challenger wrong
    challenger_only: int   # challenger right, champion wrong
    p_value: float
    delta: float           # challenger accuracy - champion accuracy
    delta_low: float
    delta_high: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def mcnemar(champion_right: np.ndarray, challenger_right: np.ndarray, seed: int = 0) -> PairedTest:
    a, b = np.asarray(champion_right, bool), np.asarray(challenger_right, bool)
    n = len(a)
    champion_only, challenger_only = int((a & ~b).sum()), int((~a & b).sum())
    p = binomial_two_sided(challenger_only, champion_only + challenger_only)
    diff = b.astype(float) - a.astype(float)
    low, high = _bootstrap_mean_interval(diff, seed)
    return PairedTest(n, champion_only, challenger_only, p, float(diff.mean()) if n else 0.0, low, high)


def unpaired_delta(champion_right: np.ndarray, challenger_right: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(delta, low, high) of challenger - champion accuracy on different tickets (independent bootstraps)."""
    a, b = np.asarray(champion_right, float), np.asarray(challenger_right, float)
    if not len(a) or not len(b):
        return 0.0, -1.0, 1.0
    rng = np.random.default_rng(seed)
    deltas = (rng.choice(b, (BOOTSTRAP_ROUNDS, len(b))).mean(axis=1)
              - rng.choice(a, (BOOTSTRAP_ROUNDS, len(a))).mean(axis=1))
    return float(b.mean() - a.mean()), float(np.quantile(deltas, 0.025)), float(np.quantile(deltas, 0.975))


def _bootstrap_mean_interval(values: np.ndarray, seed: int) -> tuple[float, float]:
    if not len(values):
        return -1.0, 1.0
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (BOOTSTRAP_ROUNDS, len(values))).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
