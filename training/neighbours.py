"""Fitting the ``knn`` block (see stream/inference/neighbours.py): out-of-fold votes + the shipped reference.

Training rows get votes from references in the *other* folds, so a ticket never
votes for itself and the booster learns how far to trust the votes on unseen
tickets. The shipped reference set is the fit rows (capped at
``max_reference`` by a stratified subsample): validation and test tickets are
scored against exactly what serving will use.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.model_selection import StratifiedKFold
from tqdm.auto import tqdm

from stream.inference.neighbours import NeighbourVotes

from .config import NeighboursConfig
from .split import capped_rows

log = logging.getLogger(__name__)


def reference_rows(y: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Indices of the rows kept as references: all of them, or a stratified ``cap`` of them."""
    return capped_rows(y, cap, seed)


def fit_neighbours(vectors: np.ndarray, y: np.ndarray, n_labels: int, cfg: NeighboursConfig, seed: int,
                   progress: bool = True) -> tuple[NeighbourVotes, np.ndarray]:
    """(votes over the reference set, out-of-fold votes for every row of ``vectors``)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    y = np.asarray(y)
    min_count = int(np.bincount(y, minlength=n_labels).min())
    folds = max(2, min(cfg.folds, min_count))
    oof = np.zeros((len(y), n_labels), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, held_idx in tqdm(list(splitter.split(vectors, y)), desc="knn folds", disable=not progress):
        ref = train_idx[reference_rows(y[train_idx], cfg.max_reference, seed)]
        fold = NeighbourVotes(vectors[ref], y[ref], n_labels, cfg.k, cfg.sharpness)
        oof[held_idx] = fold.scores(vectors[held_idx])
    keep = reference_rows(y, cfg.max_reference, seed)
    log.info("knn block", extra={"reference_tickets": len(keep), "k": cfg.k})
    votes = NeighbourVotes(vectors[keep], y[keep], n_labels, cfg.k, cfg.sharpness)
    votes.rows = keep  # which of ``vectors`` the references are: training/evidence.py names them
    return votes, oof
