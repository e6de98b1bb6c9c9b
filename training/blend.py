"""Choosing the final blend of booster and lexical probabilities (see stream/inference/blend.py).

The temperature turns the LinearSVC's margins into probabilities: it is fit by
minimising log-loss on the *out-of-fold* scores of the fit rows (scores the
model never trained on, so not over-confident). The weight is then chosen on
the validation rows, which the booster only used for early stopping.
"""
from __future__ import annotations

import logging

import numpy as np

from stream.inference.blend import Blend, blend_proba, calibrated, log_calibrated

from .config import BlendConfig

log = logging.getLogger(__name__)

TEMPERATURES = np.geomspace(0.1, 100.0, 121)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature with the lowest log-loss of softmax(temperature · scores) (grid search)."""
    rows = np.arange(len(y))
    losses = [-log_calibrated(scores, t)[rows, y].mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def _score(proba: np.ndarray, y: np.ndarray) -> float:
    """Accuracy + precision@2: the two numbers the blend is meant to lift together."""
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    return float((top2[:, 0] == y).mean() + (top2 == y[:, None]).any(axis=1).mean())


def choose_blend(booster_val: np.ndarray, lexical_fit_oof: np.ndarray, y_fit: np.ndarray,
                 lexical_val: np.ndarray, y_val: np.ndarray, cfg: BlendConfig) -> Blend:
    """Temperature from the out-of-fold fit scores, weight from the validation rows.

    Ties go to the smaller weight (weight 0 = booster alone), so the blend is
    only used when it measurably helps on validation.
    """
    temperature = fit_temperature(lexical_fit_oof, y_fit)
    lexical_proba = calibrated(lexical_val, temperature)
    if cfg.lexical_weight is not None:
        weight = float(cfg.lexical_weight)
    else:
        scores = [_score(blend_proba(booster_val, lexical_proba, w), y_val) for w in cfg.weights]
        weight = float(cfg.weights[int(np.argmax(scores))])  # argmax: first (smallest) of equals
        log.info("blend chosen", extra={"temperature": temperature, "lexical_weight": weight,
                                        "validation_score": max(scores),
                                        "booster_alone_score": _score(booster_val, y_val)})
    return Blend(lexical_weight=weight, temperature=temperature)
