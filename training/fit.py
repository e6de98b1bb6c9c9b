"""Fitting one model: feature blocks → (resampled) LightGBM → per-class thresholds.

Splits the given training rows into a fit part and a validation part. The
validation part keeps the real class mix and is used for early stopping and
for choosing thresholds; it is never resampled.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from stream.inference.blend import Blend
from stream.inference.features import assemble_features, lexical_scores, linear_scores, needs_embedder
from stream.inference.route import Route
from stream.inference.shortcut import Shortcut

from .blend import choose_blend
from .booster import train_booster
from .config import TrainConfig
from .exceptions import NotEnoughDataError
from .lexical import chunked_scores, fit_embedding_linear, fit_lexical
from .neighbours import fit_neighbours
from .profile import StepProfile
from .resample import resample
from .shortcut import choose_shortcut
from .split import stratified_split
from .thresholds import ClassThreshold, choose_thresholds

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    labels: list[str]
    booster: object
    lexical: object | None
    embedding_linear: object | None
    neighbours: object | None
    thresholds: list[ClassThreshold]
    blend: Blend | None
    val_proba: np.ndarray
    val_y: np.ndarray
    rows: dict
    route: Route | None = None
    route_booster: object | None = None
    shortcut: Shortcut | None = None


def booster_proba(booster, X: np.ndarray) -> np.ndarray:
    proba = np.asarray(booster.predict(X, num_iteration=booster.best_iteration or None), dtype=np.float64)
    return np.stack([1.0 - proba, proba], axis=1) if proba.ndim == 1 else proba


def fit_model(texts: Sequence[str], labels: Sequence[str], config: TrainConfig, embedder=None,
              progress: bool = True, profile: StepProfile | None = None) -> FitResult:
    """Train on ``texts``/``labels``; ``embedder`` is required when the embedding block is on.

    ``profile`` records each step's wall time and peak memory (training/profile.py).
    """
    profile = profile if profile is not None else StepProfile()
    label_names = sorted(set(labels))
    if len(label_names) < 2:
        raise NotEnoughDataError(f"need at least two categories to train, got {label_names}")
    index = {label: i for i, label in enumerate(label_names)}
    y = np.array([index[label] for label in labels])
    counts = np.bincount(y, minlength=len(label_names))
    if counts.min() < 3:
        rare = [label_names[i] for i in np.nonzero(counts < 3)[0]]
        raise NotEnoughDataError(f"categories with fewer than 3 examples cannot be validated: {rare}")
    texts = list(texts)
    fit_idx, val_idx = stratified_split(len(texts), y, config.data.val_fraction, config.seed)
    t_fit = [texts[i] for i in fit_idx]
    t_val = [texts[i] for i in val_idx]
    y_fit, y_val = y[fit_idx], y[val_idx]
    blocks = config.feature_blocks
    fit_values: dict[str, np.ndarray] = {}
    val_values: dict[str, np.ndarray] = {}
    lexical = None
    if "lexical" in blocks:
        with profile.step("lexical folds", len(t_fit)):
            lexical, fit_values["lexical"] = fit_lexical(t_fit, y_fit, len(label_names), config.lexical,
                                                         config.seed, progress)
            val_values["lexical"] = chunked_scores(lexical, t_val, len(label_names))
    embedding_linear = neighbours = None
    if needs_embedder(blocks):
        if embedder is None:
            raise ValueError(f"feature blocks {list(blocks)} need an embedder")
        with profile.step("embed", len(texts)):
            all_vectors = embedder.embed(texts)  # one call: one progress bar, one cache pass
        fit_values["embedding"] = all_vectors[fit_idx]
        val_values["embedding"] = all_vectors[val_idx]
        if "embedding_linear" in blocks:
            embedding_linear, fit_values["embedding_linear"] = fit_embedding_linear(
                fit_values["embedding"], y_fit, len(label_names), config.lexical, config.seed, progress)
            val_values["embedding_linear"] = linear_scores(embedding_linear, val_values["embedding"],
                                                           len(label_names))
        if "knn" in blocks:
            with profile.step("knn folds", len(fit_idx)):
                neighbours, fit_values["knn"] = fit_neighbours(fit_values["embedding"], y_fit, len(label_names),
                                                               config.neighbours, config.seed, progress)
                val_values["knn"] = neighbours.scores(val_values["embedding"])
                neighbours.rows = fit_idx[neighbours.rows]  # reference rows as positions in ``texts``
    with profile.step("booster", len(fit_idx)):
        X_fit = assemble_features(blocks, fit_values)
        X_val = assemble_features(blocks, val_values)
        X_res, y_res = resample(X_fit, y_fit, config.resample, config.seed)
        if lexical is not None and config.route.lexical_dropout > 0:
            X_res, y_res = with_lexical_dropout(X_res, y_res, blocks, fit_values, lexical, len(label_names),
                                                config.route.lexical_dropout, config.seed)
        booster = train_booster(X_res, y_res, X_val, y_val, len(label_names), config.lightgbm, config.seed,
                                progress)
        val_proba = booster_proba(booster, X_val)
    with profile.step("thresholds", len(val_idx)):
        blend = None
        if config.blend.enabled and "lexical" in blocks:
            blend = choose_blend(val_proba, fit_values["lexical"], y_fit, val_values["lexical"], y_val,
                                 config.blend)
            val_proba = blend.apply(val_proba, val_values["lexical"])  # thresholds see what serving outputs
        shortcut = None
        if blend is not None and needs_embedder(blocks):
            shortcut, val_proba = choose_shortcut(val_proba, val_values["lexical"], y_val, blend.temperature,
                                                  config.shortcut)
        thresholds = choose_thresholds(val_proba, y_val, label_names, config.thresholds)
    rows = {"fit": int(len(fit_idx)), "validation": int(len(val_idx)), "booster_rows_after_resampling":
            int(len(y_res)), "best_iteration": int(booster.best_iteration or booster.current_iteration())}
    route = route_booster = None
    if routable(config):
        with profile.step("route booster", len(fit_idx)):
            route, route_booster = fit_route(config, fit_values, y_fit, val_values, y_val, len(label_names),
                                             progress)
        rows["route_best_iteration"] = int(route_booster.best_iteration or route_booster.current_iteration())
    return FitResult(labels=label_names, booster=booster, lexical=lexical, embedding_linear=embedding_linear,
                     neighbours=neighbours, thresholds=thresholds, blend=blend,
                     val_proba=val_proba, val_y=y_val, rows=rows, route=route, route_booster=route_booster,
                     shortcut=shortcut)


def with_lexical_dropout(X: np.ndarray, y: np.ndarray, blocks, fit_values: dict, lexical, n_labels: int,
                         share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Append a random ``share`` of the rows again, their lexical columns set to an empty text's scores.

    Every training row is covered by its own vocabulary, so without this the booster never sees
    the lexical block say nothing, which is what it says on a language it was not trained on.
    """
    widths = {b: np.asarray(fit_values[b]).reshape(len(fit_values[b]), -1).shape[1] for b in blocks}
    start = sum(widths[b] for b in blocks[:list(blocks).index("lexical")])
    rows = np.random.default_rng(seed).choice(len(X), size=int(round(share * len(X))), replace=False)
    blank = X[rows].copy()
    blank[:, start:start + widths["lexical"]] = lexical_scores(lexical, [""], n_labels)[0]
    return np.vstack([X, blank]), np.concatenate([y, y[rows]])


def routable(config: TrainConfig) -> bool:
    """The route needs the lexical block (its vocabulary) and at least one e5 block to fall back on."""
    blocks = config.feature_blocks
    return config.route.enabled and "lexical" in blocks and needs_embedder([b for b in blocks if b != "lexical"])


def fit_route(config: TrainConfig, fit_values: dict, y_fit: np.ndarray, val_values: dict, y_val: np.ndarray,
              n_labels: int, progress: bool = True):
    """The language-agnostic booster (stream/inference/route.py): the same rows, every block but lexical.

    It reuses the blocks already computed for the main booster, so it costs one more boosting run.
    """
    route = Route(config.route.low, config.route.high,
                  tuple(b for b in config.feature_blocks if b != "lexical"))
    X_fit = assemble_features(route.blocks, fit_values)
    X_res, y_res = resample(X_fit, y_fit, config.resample, config.seed)
    booster = train_booster(X_res, y_res, assemble_features(route.blocks, val_values), y_val, n_labels,
                            config.lightgbm, config.seed, progress)
    return route, booster
