"""Lexical-coverage routing: text the TF-IDF vocabulary cannot read goes to a language-agnostic booster.

The lexical block is language-specific: on a ticket written in a language the
model saw little of, almost none of its words are in the vocabulary and the
block's scores are a guess that the main booster still trusts, because on its
training rows the block always had words to read. A second booster trained
alongside on the blocks computed from the multilingual e5 vectors only (e5 +
kNN votes) does not depend on the vocabulary. The share of a ticket's words
that the vocabulary knows (``coverage``) decides how much each booster counts:

    weight of the full model = clip((coverage − low) / (high − low), 0, 1)
    proba = weight · full + (1 − weight) · agnostic

No language detection is involved, and a ticket whose words the vocabulary
knows (every ticket of the language(s) trained on, in practice) is answered by
the full model alone, exactly as without the route.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .features import check_blocks, needs_embedder


@dataclass(frozen=True)
class Route:
    """Coverage bounds and the blocks of the agnostic booster (recorded in the manifest)."""

    low: float
    high: float
    blocks: tuple[str, ...]

    def __post_init__(self):
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"route bounds must satisfy 0 <= low <= high <= 1, got {self.low}, {self.high}")
        check_blocks(self.blocks)
        if "lexical" in self.blocks or not needs_embedder(self.blocks):
            raise ValueError(f"the route's booster must read e5 blocks only, got {list(self.blocks)}")

    def as_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "blocks": list(self.blocks)}

    @classmethod
    def from_manifest(cls, spec: dict | None) -> "Route | None":
        if not spec:
            return None
        return cls(float(spec["low"]), float(spec["high"]), tuple(spec["blocks"]))

    def full_weight(self, coverage: np.ndarray) -> np.ndarray:
        """Per text, the full model's weight in [0, 1] (1: the route does not touch it)."""
        coverage = np.asarray(coverage, dtype=np.float64)
        if self.high == self.low:
            return (coverage >= self.high).astype(np.float64)
        return np.clip((coverage - self.low) / (self.high - self.low), 0.0, 1.0)

    def mix(self, full: np.ndarray, agnostic: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if full.shape != agnostic.shape or len(weight) != len(full):
            raise ValueError(f"cannot mix shapes {full.shape}, {agnostic.shape} with {len(weight)} weights")
        w = np.asarray(weight, dtype=np.float64)[:, None]
        return w * full + (1.0 - w) * agnostic


def word_coverage(lexical_model, texts: Sequence[str]) -> np.ndarray:
    """Share of each text's words (the word vectorizer's own tokens) that are in its vocabulary.

    A text without words gets 0. The lexical model is the shipped pipeline: a
    ``FeatureUnion`` of TF-IDF vectorizers under the step ``tfidf``, one of them on words.
    """
    analyzer, vocabulary = _word_vocabulary(lexical_model)
    out = np.zeros(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        words = [token for token in analyzer(text) if " " not in token]  # unigrams; n-grams join with " "
        if words:
            out[i] = sum(token in vocabulary for token in words) / len(words)
    return out


def _word_vocabulary(lexical_model):
    union = lexical_model.named_steps["tfidf"] if hasattr(lexical_model, "named_steps") else lexical_model
    parts = getattr(union, "transformer_list", [("only", union)])
    for _, vectorizer in parts:
        if getattr(vectorizer, "analyzer", None) == "word" and hasattr(vectorizer, "vocabulary_"):
            return vectorizer.build_analyzer(), vectorizer.vocabulary_
    raise ValueError("the lexical model has no fitted word vectorizer to measure coverage with")
