"""The ``knn`` feature block: how the nearest labelled tickets in e5 space voted.

A tree reads a 384-d embedding one coordinate at a time and so misses what the
embedding is best at: "this ticket reads like those". The votes of the k most
similar training tickets (cosine, weighted by ``exp(sharpness · (sim − 1))`` so
near-duplicates dominate) give the booster that signal as one share per label.
Measured on the shipped data it lifts both accuracy and precision@2 of the
stacked model (docs/training.md). Training and serving share this class.

Multi-label versions give each reference its label *set* (a 0/1 matrix, one
column per label): a label's vote is then the weighted share of the k
neighbours that carry it, so a row no longer sums to 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Rows scored per matrix product: bounds the (rows x reference) similarity matrix in memory.
_CHUNK = 1024


class NeighbourVotes:
    """Labelled reference vectors (L2-normalised) and the rule that turns neighbours into votes.

    ``labels``: one label index per reference, or a (references, n_labels) 0/1 matrix of label sets.
    """

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, n_labels: int, k: int = 30,
                 sharpness: float = 10.0):
        vectors = np.asarray(vectors, dtype=np.float32)
        labels = np.asarray(labels)
        labels = labels.astype(np.int8 if labels.ndim == 2 else np.int64)
        if vectors.ndim != 2 or len(vectors) != len(labels) or not len(labels) or labels.ndim > 2:
            raise ValueError(f"need one label per reference vector, got {vectors.shape} and {labels.shape}")
        if k < 1 or sharpness < 0:
            raise ValueError(f"k must be >= 1 and sharpness >= 0, got k={k}, sharpness={sharpness}")
        if labels.ndim == 2 and (labels.shape[1] != n_labels or not np.isin(labels, (0, 1)).all()):
            raise ValueError(f"reference label sets must be a 0/1 matrix with {n_labels} columns, "
                             f"got shape {labels.shape}")
        if labels.ndim == 1 and (labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f"reference labels must be in [0, {n_labels}), got {labels.min()}…{labels.max()}")
        self.vectors, self.labels, self.n_labels = vectors, labels, int(n_labels)
        self.k, self.sharpness = int(k), float(sharpness)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def label_sets(self) -> bool:
        return self.labels.ndim == 2

    def label_names(self, names) -> list[str]:
        """Each reference's label as text: its name, or its set's names joined by ``|``."""
        if self.label_sets:
            return ["|".join(names[j] for j in np.flatnonzero(row)) for row in self.labels]
        return [names[i] for i in self.labels]

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Per query, the weighted share of its k nearest references in each label (rows sum to 1)."""
        return self.scores_and_nearest(queries, 0)[0]

    def scores_and_nearest(self, queries: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`scores`, plus each query's ``top`` nearest references (indices, cosine), closest first.

        Read off the similarity matrix the votes already need, so showing the
        nearest tickets costs a sort of k numbers per query, not a second product.
        """
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have {self.dim} columns, got shape {queries.shape}")
        k = min(self.k, len(self.labels))
        out = np.zeros((len(queries), self.n_labels), dtype=np.float32)
        top = min(max(int(top), 0), k)
        top_idx = np.zeros((len(queries), top), dtype=np.int64)
        top_sim = np.zeros((len(queries), top), dtype=np.float32)
        for start in range(0, len(queries), _CHUNK):
            sim = queries[start:start + _CHUNK] @ self.vectors.T
            nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            near_sim = np.take_along_axis(sim, nearest, axis=1)
            # exp(s·(sim − 1)) up to a per-row factor, which the normalisation below cancels;
            # subtracting the row's best similarity instead of 1 keeps exp() finite for any input.
            weights = np.exp(self.sharpness * (near_sim - near_sim.max(axis=1, keepdims=True)))
            votes = out[start:start + len(sim)]
            if self.label_sets:
                votes += np.einsum("rk,rkl->rl", weights, self.labels[nearest].astype(np.float32))
                votes /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
            else:
                rows = np.repeat(np.arange(len(sim)), k)
                np.add.at(votes, (rows, self.labels[nearest].ravel()), weights.ravel())
                votes /= np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
            if top:
                order = np.argsort(-near_sim, axis=1, kind="stable")[:, :top]
                top_idx[start:start + len(sim)] = np.take_along_axis(nearest, order, axis=1)
                top_sim[start:start + len(sim)] = np.take_along_axis(near_sim, order, axis=1)
        return out, top_idx, top_sim

    def save(self, path: Path) -> None:
        """float16 vectors: half the size, and the votes do not notice (cosine error < 1e-3)."""
        with open(path, "wb") as fh:  # a file object: np.savez would otherwise append ".npz"
            np.savez(fh, vectors=self.vectors.astype(np.float16), labels=self.labels,
                     n_labels=self.n_labels, k=self.k, sharpness=self.sharpness)

    @classmethod
    def load(cls, path: Path) -> "NeighbourVotes":
        with np.load(path, allow_pickle=False) as data:
            return cls(data["vectors"], data["labels"], int(data["n_labels"]), k=int(data["k"]),
                       sharpness=float(data["sharpness"]))
