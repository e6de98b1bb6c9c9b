"""Fitting a multi-label model: the shared feature blocks → one binary booster per label → thresholds.

The blocks are those of a single-label version, turned per label: the lexical
block becomes one-vs-rest linear scores (one column per label), the kNN block
each label's weighted vote rate among the nearest fit tickets, the embedding
block is unchanged. Stacking is out-of-fold as in training/lexical.py and
training/neighbours.py, so the boosters learn how far to trust scores on
tickets the scorers did not fit on. Each label's booster reads every block (a
label's neighbours in other labels are evidence too) and stops early on the
validation rows, which keep the real label mix and choose the thresholds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC
from tqdm.auto import tqdm

from stream.inference.features import assemble_features, linear_scores, needs_embedder
from stream.inference.multilabel import LabelBoosters, LinearScores
from stream.inference.neighbours import NeighbourVotes

from ..booster import train_booster
from ..config import TrainConfig
from ..exceptions import NotEnoughDataError
from ..lexical import _shrink, build_vectorizer
from .labels import split_rows
from .thresholds import LabelThreshold, choose_label_thresholds

log = logging.getLogger(__name__)


@dataclass
class MultiLabelFit:
    labels: list[str]
    boosters: LabelBoosters
    lexical: object | None
    embedding_linear: object | None
    neighbours: NeighbourVotes | None
    thresholds: list[LabelThreshold]
    val_proba: np.ndarray
    val_Y: np.ndarray
    rows: dict


def fit_one_vs_rest(make_clf, X, Y: np.ndarray) -> LinearScores:
    """One linear model per label, weights stacked; a label constant on these rows gets a constant score."""
    coef, intercept = [], []
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if y.min() == y.max():
            coef.append(np.zeros(X.shape[1], dtype=np.float32))
            intercept.append(1.0 if y[0] else -1.0)
            continue
        clf = make_clf().fit(X, y)
        coef.append(np.asarray(clf.coef_, dtype=np.float32).ravel())
        intercept.append(float(np.ravel(clf.intercept_)[0]))
    return LinearScores(np.vstack(coef), intercept)


def one_vs_rest_out_of_fold(make_clf, X, Y: np.ndarray, folds: int, seed: int, desc: str,
                            progress: bool = True) -> tuple[LinearScores, np.ndarray]:
    """(scorer fit on all rows, out-of-fold scores for every row)."""
    oof = np.zeros(Y.shape, dtype=np.float32)
    splitter = KFold(n_splits=max(2, min(folds, len(Y))), shuffle=True, random_state=seed)
    for train_idx, held_idx in tqdm(list(splitter.split(X)), desc=desc, disable=not progress):
        oof[held_idx] = fit_one_vs_rest(make_clf, X[train_idx], Y[train_idx]).decision_function(X[held_idx])
    return fit_one_vs_rest(make_clf, X, Y), oof


def neighbour_votes_out_of_fold(vectors: np.ndarray, Y: np.ndarray, config: TrainConfig,
                                progress: bool = True) -> tuple[NeighbourVotes, np.ndarray]:
    """Per-label vote rates: out-of-fold for the fit rows, and the shipped reference set."""
    cfg, rng = config.neighbours, np.random.default_rng(config.seed)

    def capped(rows: np.ndarray) -> np.ndarray:
        return rows if len(rows) <= cfg.max_reference else np.sort(rng.choice(rows, cfg.max_reference, replace=False))

    oof = np.zeros(Y.shape, dtype=np.float32)
    splitter = KFold(n_splits=max(2, min(cfg.folds, len(Y))), shuffle=True, random_state=config.seed)
    for train_idx, held_idx in tqdm(list(splitter.split(vectors)), desc="knn folds", disable=not progress):
        ref = capped(train_idx)
        oof[held_idx] = NeighbourVotes(vectors[ref], Y[ref], Y.shape[1], cfg.k, cfg.sharpness).scores(vectors[held_idx])
    keep = capped(np.arange(len(Y)))
    votes = NeighbourVotes(vectors[keep], Y[keep], Y.shape[1], cfg.k, cfg.sharpness)
    votes.rows = keep
    return votes, oof


def fit_multilabel(texts, Y: np.ndarray, labels: list[str], config: TrainConfig, embedder=None,
                   progress: bool = True) -> MultiLabelFit:
    """Train on ``texts`` and their (rows, labels) 0/1 matrix ``Y``."""
    if len(labels) < 1 or Y.shape != (len(texts), len(labels)):
        raise NotEnoughDataError(f"need a label matrix of shape ({len(texts)}, labels), got {Y.shape}")
    texts = list(texts)
    fit_idx, val_idx = split_rows(Y, config.data.val_fraction, config.seed)
    t_fit, t_val = [texts[i] for i in fit_idx], [texts[i] for i in val_idx]
    Y_fit, Y_val = Y[fit_idx], Y[val_idx]
    n, blocks, seed = len(labels), config.feature_blocks, config.seed
    fit_values: dict[str, np.ndarray] = {}
    val_values: dict[str, np.ndarray] = {}
    lexical = embedding_linear = neighbours = None
    if "lexical" in blocks:
        from sklearn.pipeline import Pipeline

        vectorizer = build_vectorizer(config.lexical, len(t_fit))
        X_text = vectorizer.fit_transform(t_fit)
        _shrink(vectorizer)
        scorer, fit_values["lexical"] = one_vs_rest_out_of_fold(
            lambda: LinearSVC(C=config.lexical.C, random_state=seed), X_text, Y_fit, config.lexical.folds, seed,
            "lexical folds", progress)
        lexical = Pipeline([("tfidf", vectorizer), ("clf", scorer)])
        val_values["lexical"] = linear_scores(lexical, t_val, n)
    if needs_embedder(blocks):
        if embedder is None:
            raise ValueError(f"feature blocks {list(blocks)} need an embedder")
        vectors = embedder.embed(texts)
        fit_values["embedding"], val_values["embedding"] = vectors[fit_idx], vectors[val_idx]
        if "embedding_linear" in blocks:
            from sklearn.linear_model import LogisticRegression

            embedding_linear, fit_values["embedding_linear"] = one_vs_rest_out_of_fold(
                lambda: LogisticRegression(C=config.lexical.embedding_C, max_iter=1000), fit_values["embedding"],
                Y_fit, config.lexical.folds, seed, "embedding-linear folds", progress)
            val_values["embedding_linear"] = linear_scores(embedding_linear, val_values["embedding"], n)
        if "knn" in blocks:
            neighbours, fit_values["knn"] = neighbour_votes_out_of_fold(fit_values["embedding"], Y_fit, config,
                                                                        progress)
            val_values["knn"] = neighbours.scores(val_values["embedding"])
            neighbours.rows = fit_idx[neighbours.rows]  # reference rows as positions in ``texts``
    X_fit, X_val = assemble_features(blocks, fit_values), assemble_features(blocks, val_values)
    boosters = []
    for j in tqdm(range(n), desc="label boosters", disable=not progress):
        boosters.append(train_booster(X_fit, Y_fit[:, j], X_val, Y_val[:, j], 2, config.lightgbm, seed,
                                      progress=False))
    label_boosters = LabelBoosters(labels, boosters)
    val_proba = label_boosters.predict(X_val)
    thresholds = choose_label_thresholds(val_proba, Y_val, labels, config.thresholds.label_target_precision,
                                         config.thresholds.min_support)
    iterations = [int(b.best_iteration or b.current_iteration()) for b in boosters]
    rows = {"fit": int(len(fit_idx)), "validation": int(len(val_idx)),
            "best_iteration": int(np.median(iterations)), "best_iterations": dict(zip(labels, iterations))}
    log.info("multi-label model fit", extra={"labels": n, "fit_rows": len(fit_idx),
                                              "median_best_iteration": rows["best_iteration"]})
    return MultiLabelFit(labels=labels, boosters=label_boosters, lexical=lexical, embedding_linear=embedding_linear,
                         neighbours=neighbours, thresholds=thresholds, val_proba=val_proba, val_Y=Y_val, rows=rows)
