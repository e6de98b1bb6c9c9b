"""Feature blocks at inference: the same matrix layout the booster was trained on.

A model names its blocks in its manifest (e.g. ``["embedding", "lexical"]``);
training and serving both build the booster input with :func:`assemble_features`
so the column order cannot drift between the two.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .exceptions import InferenceError

FEATURE_BLOCKS = ("embedding", "lexical", "embedding_linear", "knn")
# Blocks computed from the e5 vectors: a model using any of them needs the embedder.
EMBEDDING_BLOCKS = frozenset({"embedding", "embedding_linear", "knn"})


def needs_embedder(blocks: Sequence[str]) -> bool:
    return any(b in EMBEDDING_BLOCKS for b in blocks)


class UnknownFeatureBlockError(InferenceError, ValueError):
    """A configuration or manifest names a block this code does not know."""


def check_blocks(blocks: Sequence[str]) -> tuple[str, ...]:
    """Validate a block list; order is kept because it fixes the column layout."""
    unknown = [b for b in blocks if b not in FEATURE_BLOCKS]
    if unknown or not blocks:
        raise UnknownFeatureBlockError(
            f"feature blocks must be a non-empty subset of {list(FEATURE_BLOCKS)}, got {list(blocks)}")
    if len(set(blocks)) != len(blocks):
        raise UnknownFeatureBlockError(f"feature block listed twice: {list(blocks)}")
    return tuple(blocks)


def lexical_scores(model, texts: Sequence[str], n_labels: int) -> np.ndarray:
    """Decision scores of the TF-IDF linear model, one column per label (label order)."""
    return linear_scores(model, list(texts), n_labels)


def linear_scores(model, inputs, n_labels: int) -> np.ndarray:
    """Decision scores of a fitted linear classifier (texts or vectors in), label order."""
    scores = np.asarray(model.decision_function(inputs), dtype=np.float32)
    if scores.ndim == 1:  # binary problems: scikit-learn returns the positive-class margin only
        scores = np.stack([-scores, scores], axis=1)
    if scores.shape[1] != n_labels:
        raise ValueError(f"linear model scores {scores.shape[1]} labels, the model expects {n_labels}")
    return scores


def assemble_features(blocks: Sequence[str], values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stack the named blocks side by side, in the given order, as float32."""
    parts = []
    for block in check_blocks(blocks):
        if block not in values:
            raise ValueError(f"feature block {block!r} was not computed")
        arr = np.asarray(values[block], dtype=np.float32)
        parts.append(arr.reshape(len(arr), -1))
    n = {len(p) for p in parts}
    if len(n) != 1:
        raise ValueError(f"feature blocks disagree on the number of rows: {sorted(n)}")
    return np.hstack(parts)
