"""The final blend: booster probabilities × the lexical model's calibrated probabilities.

The booster ranks the top class well but its runner-up is noisy; the TF-IDF
linear model's scores rank runner-ups well. A weighted geometric mean of the
two, renormalised, keeps the booster's accuracy and fixes much of the second
place (precision@2). Training chooses the temperature (on out-of-fold lexical
scores) and the weight (on validation rows) and writes both to the manifest;
serving only does this arithmetic on scores it already computed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

_FLOOR = 1e-12  # log(0) guard: a zero probability must not veto a class outright


@dataclass(frozen=True)
class Blend:
    """``proba ∝ booster^(1-weight) · softmax(temperature · lexical_scores)^weight``."""

    lexical_weight: float
    temperature: float

    def __post_init__(self):
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError(f"blend lexical_weight must be in [0, 1], got {self.lexical_weight}")
        if not self.temperature > 0:
            raise ValueError(f"blend temperature must be > 0, got {self.temperature}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_manifest(cls, spec: dict | None) -> "Blend | None":
        return None if not spec else cls(float(spec["lexical_weight"]), float(spec["temperature"]))

    def apply(self, booster_proba: np.ndarray, lexical_scores: np.ndarray) -> np.ndarray:
        return blend_proba(booster_proba, calibrated(lexical_scores, self.temperature), self.lexical_weight)


def log_calibrated(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Log-softmax of temperature-scaled decision scores (numerically stable)."""
    z = np.asarray(scores, dtype=np.float64) * temperature
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def calibrated(scores: np.ndarray, temperature: float) -> np.ndarray:
    return np.exp(log_calibrated(scores, temperature))


def blend_proba(booster_proba: np.ndarray, lexical_proba: np.ndarray, weight: float) -> np.ndarray:
    """Weighted geometric mean of two probability matrices, rows renormalised to 1."""
    if booster_proba.shape != lexical_proba.shape:
        raise ValueError(f"cannot blend shapes {booster_proba.shape} and {lexical_proba.shape}")
    log_p = (1.0 - weight) * np.log(np.clip(booster_proba, _FLOOR, 1.0)) \
        + weight * np.log(np.clip(lexical_proba, _FLOOR, 1.0))
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)
