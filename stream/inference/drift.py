"""Drift figures: how far recent traffic has moved from what a version was trained and tested on.

Training writes a version's *reference* (``drift_reference.json``): the
distribution of each monitored figure on its held-out test tickets, measured
through the serving predictor, plus the training label prior. Serving (and the
retraining job, on what the sink stored) measures the same figures on recent
tickets and compares them with a population stability index (PSI) per figure:

- input: ``length`` (words of the ticket's 280-character excerpt, so everything
  past ~45 words folds into the last bin: the excerpt is what every stored event
  has), ``language`` (the event's language), ``nn_similarity`` (cosine similarity
  of the nearest training ticket in e5 space, from the kNN evidence: embedding
  drift without a second embedding);
- output: ``category`` (predicted mix against the training label prior),
  ``confidence`` and the abstention rate.

numpy only: the worker imports this module.
"""
from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

DRIFT_REFERENCE = "drift_reference.json"
#: Added to every bin's share before the PSI's log ratio, so an empty bin costs a finite amount.
PSI_EPSILON = 1e-4
#: Bin edges of the numeric figures (the last bin is open). Lengths: the shipped data's median
#: ticket has 26 words; similarities and confidences in tenths, finer where they usually sit.
LENGTH_EDGES = (0, 5, 10, 15, 20, 30, 40)
SIMILARITY_EDGES = (0.0, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
CONFIDENCE_EDGES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
NUMERIC = {"length": LENGTH_EDGES, "nn_similarity": SIMILARITY_EDGES, "confidence": CONFIDENCE_EDGES}
CATEGORICAL = ("language", "category")
FEATURES = ("length", "language", "nn_similarity", "category", "confidence")
#: Means exported beside the PSIs (the dashboard draws live against reference).
MEANS = ("length", "nn_similarity", "confidence", "abstention")


@dataclass(frozen=True)
class Observation:
    """What drift needs of one classified ticket (all of it is in a ClassifiedEvent)."""

    words: int
    language: str
    category: str
    confidence: float
    needs_human: bool
    nn_similarity: float | None = None  # None when the version has no kNN block


def words_of(excerpt: str) -> int:
    return len(excerpt.split())


def observation_of(event) -> Observation:
    """A ClassifiedEvent (pydantic) → Observation."""
    evidence = getattr(event, "evidence", None)
    neighbours = getattr(evidence, "neighbours", None) or ()
    return Observation(words=words_of(event.excerpt), language=event.language or "und", category=event.category,
                       confidence=float(event.confidence), needs_human=bool(event.needs_human),
                       nn_similarity=float(neighbours[0].similarity) if neighbours else None)


def binned(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each bin ``[edge_i, edge_i+1)``, the last bin open-ended."""
    if not len(values):
        return [0.0] * len(edges)
    idx = np.clip(np.searchsorted(np.asarray(edges), np.asarray(values, dtype=float), side="right") - 1,
                  0, len(edges) - 1)
    counts = np.bincount(idx, minlength=len(edges))
    return (counts / counts.sum()).tolist()


def shares(values: Iterable[str]) -> dict[str, float]:
    values = list(values)
    if not values:
        return {}
    keys, counts = np.unique(np.asarray(values, dtype=object).astype(str), return_counts=True)
    return {str(k): float(c) / len(values) for k, c in zip(keys, counts)}


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index: sum (a - e) * ln(a / e). < 0.1 stable, 0.1-0.25 moving, > 0.25 shifted."""
    e = np.asarray(expected, dtype=float) + PSI_EPSILON
    a = np.asarray(actual, dtype=float) + PSI_EPSILON
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def psi_of_shares(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    keys = sorted(set(expected) | set(actual))
    return psi([expected.get(k, 0.0) for k in keys], [actual.get(k, 0.0) for k in keys])


def profile(observations: Sequence[Observation]) -> dict:
    """The distributions and means of a set of tickets (a reference, or a live window)."""
    sims = [o.nn_similarity for o in observations if o.nn_similarity is not None]
    lengths = [o.words for o in observations]
    confidences = [o.confidence for o in observations]
    return {
        "n": len(observations),
        "bins": {"length": binned(lengths, LENGTH_EDGES), "confidence": binned(confidences, CONFIDENCE_EDGES),
                 "nn_similarity": binned(sims, SIMILARITY_EDGES) if sims else None},
        "shares": {"language": shares(o.language for o in observations),
                   "category": shares(o.category for o in observations)},
        "means": {"length": _mean(lengths), "confidence": _mean(confidences),
                  "nn_similarity": _mean(sims) if sims else None,
                  "abstention": _mean([float(o.needs_human) for o in observations])},
    }


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def build_reference(observations: Sequence[Observation], label_prior: Mapping[str, float]) -> dict:
    """The reference written into a version folder: the held-out profile and the training label prior."""
    ref = profile(observations)
    ref["edges"] = {name: list(edges) for name, edges in NUMERIC.items()}
    ref["label_prior"] = dict(label_prior)
    return ref


def compare(reference: Mapping, live: Mapping) -> dict[str, float | None]:
    """PSI of each figure, live against the reference (None when either side cannot say)."""
    out: dict[str, float | None] = {}
    for name in ("length", "confidence", "nn_similarity"):
        ref_bins, live_bins = reference["bins"].get(name), live["bins"].get(name)
        out[name] = psi(ref_bins, live_bins) if ref_bins and live_bins and live["n"] else None
    out["language"] = psi_of_shares(reference["shares"]["language"], live["shares"]["language"]) \
        if live["n"] and reference["shares"]["language"] else None
    # the category mix against what the model learnt to expect: the training label prior
    prior = reference.get("label_prior") or reference["shares"]["category"]
    out["category"] = psi_of_shares(prior, live["shares"]["category"]) if live["n"] and prior else None
    return out


def load_reference(version_dir: Path) -> dict | None:
    """A version's drift reference, or None for versions trained before it existed."""
    path = Path(version_dir) / DRIFT_REFERENCE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


@dataclass
class DriftWindow:
    """The last ``size`` tickets served by one version, compared with that version's reference."""

    reference: dict | None
    size: int = 1000
    _seen: deque = field(default_factory=deque)

    def add(self, observation: Observation) -> None:
        self._seen.append(observation)
        while len(self._seen) > self.size:
            self._seen.popleft()

    def __len__(self) -> int:
        return len(self._seen)

    def figures(self) -> dict:
        """``{"n", "psi": {feature: value|None}, "live": means, "reference": means}``."""
        live = profile(list(self._seen))
        ref = self.reference
        return {"n": live["n"], "psi": compare(ref, live) if ref else {f: None for f in FEATURES},
                "live": live["means"], "reference": (ref or {}).get("means", {})}


def finite(value) -> bool:
    return value is not None and math.isfinite(value)
