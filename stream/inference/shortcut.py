"""The lexical shortcut: a ticket the TF-IDF model is sure of is answered without the embedder.

The e5 forward pass is ~90% of a ticket's CPU, yet on most tickets it does not
change the answer: where the calibrated lexical probability is high, the full
model (booster on e5 + kNN + lexical, blended) agrees with the lexical model
almost always. Training picks the lowest confidence at which answering those
tickets from the lexical model alone costs no accuracy on the validation rows
(training/shortcut.py) and records it in the manifest; serving answers a ticket
at or above it with ``softmax(temperature · lexical scores)`` and embeds only the
rest. The decision reads nothing but the ticket's own lexical scores (and its
word coverage when the version routes), so a ticket gets the same answer alone,
in any batch, in the stream and from ``POST /classify``.

A shortcut ticket carries the deciding terms as evidence but no nearest tickets
(they come from the embedding it skipped).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .blend import calibrated


@dataclass(frozen=True)
class Shortcut:
    """``min_confidence``: the lexical top probability from which the embedder is skipped."""

    min_confidence: float
    temperature: float
    validation: dict = field(default_factory=dict)  # what the choice measured (shown in the card)

    def __post_init__(self):
        if not 0.0 < self.min_confidence <= 1.0:
            raise ValueError(f"shortcut min_confidence must be in (0, 1], got {self.min_confidence}")
        if not self.temperature > 0:
            raise ValueError(f"shortcut temperature must be > 0, got {self.temperature}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_manifest(cls, spec: dict | None) -> "Shortcut | None":
        if not spec:
            return None
        return cls(float(spec["min_confidence"]), float(spec["temperature"]), dict(spec.get("validation") or {}))

    def lexical_proba(self, lexical_scores: np.ndarray) -> np.ndarray:
        return calibrated(lexical_scores, self.temperature)

    def sure(self, lexical_proba: np.ndarray) -> np.ndarray:
        """Per row, whether the lexical answer is taken as it is."""
        return np.asarray(lexical_proba).max(axis=1) >= self.min_confidence
