"""Choosing the lexical shortcut's confidence on the validation rows (see stream/inference/shortcut.py).

For each candidate confidence, from the highest down, the validation rows whose
calibrated lexical top probability reaches it are answered by the lexical model
and the rest by the full model. The chosen confidence is the lowest at which,
*for it and every higher candidate*, the lexical answers agree with the full
model's on at least ``min_agreement`` of the skipped rows and accuracy and
precision@2 lose at most ``max_accuracy_loss``. Scanning down and stopping at
the first failure keeps one lucky low candidate from being picked. No candidate
passing means no shortcut: the version embeds every ticket, as before.
"""
from __future__ import annotations

import logging

import numpy as np

from stream.inference.shortcut import Shortcut

from .config import ShortcutConfig

log = logging.getLogger(__name__)

CANDIDATES = tuple(round(0.99 - 0.01 * i, 2) for i in range(50))  # 0.99 … 0.50


def _accuracy_and_top2(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    return float((top2[:, 0] == y).mean()), float((top2 == y[:, None]).any(axis=1).mean())


def choose_shortcut(full_proba: np.ndarray, lexical_scores: np.ndarray, y: np.ndarray, temperature: float,
                    cfg: ShortcutConfig) -> tuple[Shortcut | None, np.ndarray]:
    """The shortcut (or None) and the validation probabilities serving would then output."""
    if not cfg.enabled or len(y) == 0:
        return None, full_proba
    probe = Shortcut(1.0, temperature)
    lexical = probe.lexical_proba(lexical_scores)
    confidence, lexical_top, full_top = lexical.max(axis=1), lexical.argmax(axis=1), full_proba.argmax(axis=1)
    full_acc, full_top2 = _accuracy_and_top2(full_proba, y)
    chosen = None
    for candidate in CANDIDATES:
        sure = confidence >= candidate
        served = np.where(sure[:, None], lexical, full_proba)
        acc, top2 = _accuracy_and_top2(served, y)
        agreement = float((lexical_top[sure] == full_top[sure]).mean()) if sure.any() else 1.0
        if agreement < cfg.min_agreement or acc < full_acc - cfg.max_accuracy_loss \
                or top2 < full_top2 - cfg.max_accuracy_loss:
            break
        chosen = (candidate, served, {"skipped": round(float(sure.mean()), 4), "agreement": round(agreement, 4),
                                      "accuracy": round(acc, 4), "accuracy_full": round(full_acc, 4),
                                      "precision_at_2": round(top2, 4), "precision_at_2_full": round(full_top2, 4),
                                      "rows": int(len(y))})
    if chosen is None:
        log.info("no lexical shortcut: the lexical model is not sure enough on validation")
        return None, full_proba
    candidate, served, measured = chosen
    log.info("lexical shortcut chosen", extra={"min_confidence": candidate, **measured})
    return Shortcut(candidate, temperature, measured), served
