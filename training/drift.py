"""Drift at training time: the reference a version carries, and the figures of what the sink stored.

The reference is measured on the held-out test tickets through the serving
predictor (the same Observation fields the worker sees), so live traffic is
compared with data the model did not fit. The figures the retraining job
records come from the sink's table: every stored prediction has its excerpt,
language, category, confidence and abstention; the nearest-neighbour similarity
is not stored, so it is measured only by the worker (``tickets_drift_psi``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping

import pandas as pd

from stream.inference.drift import (DRIFT_REFERENCE, Observation, build_reference, compare, load_reference,
                                    profile, words_of)

from . import languages as language_mix

log = logging.getLogger(__name__)

#: What the worker's excerpt keeps (stream/worker/classify.py): lengths are measured on it on both sides.
EXCERPT_CHARS = 280


def write_drift_reference(folder: Path, predictor, test_df: pd.DataFrame, label_counts: Mapping[str, int]) -> None:
    """``drift_reference.json`` of a staged version, from its test split (nothing without one)."""
    if test_df.empty:
        return
    texts = test_df["text"].tolist()
    predictions = predictor.predict(texts)
    languages = language_mix.resolve(test_df)
    observations = []
    for text, language, p in zip(texts, languages, predictions):
        neighbours = getattr(p.evidence, "neighbours", None) or ()
        observations.append(Observation(words=words_of(text[:EXCERPT_CHARS]), language=language or "und",
                                        category=p.category, confidence=float(p.confidence),
                                        needs_human=bool(p.needs_human),
                                        nn_similarity=float(neighbours[0].similarity) if neighbours else None))
    total = sum(label_counts.values()) or 1
    reference = build_reference(observations, {k: v / total for k, v in label_counts.items()})
    (Path(folder) / DRIFT_REFERENCE).write_text(json.dumps(reference, indent=2) + "\n")


def stored_observations(rows: pd.DataFrame) -> list[Observation]:
    """Rows of the sink's classified table (EXCERPT, LANGUAGE, CATEGORY, CONFIDENCE, NEEDS_HUMAN) → Observations."""
    cols = {c.lower(): c for c in rows.columns}
    out = []
    for row in rows.itertuples(index=False):
        get = lambda name: getattr(row, cols[name]) if name in cols else None  # noqa: E731
        out.append(Observation(words=words_of(str(get("excerpt") or "")), language=str(get("language") or "und"),
                               category=str(get("category")), confidence=float(get("confidence") or 0.0),
                               needs_human=bool(get("needs_human"))))
    return out


def stored_drift(version_dir: Path, rows: pd.DataFrame) -> dict:
    """Drift of the stored predictions of one version against that version's reference."""
    reference = load_reference(version_dir)
    live = profile(stored_observations(rows))
    if reference is None:
        return {"n": live["n"], "note": "the version has no drift reference (trained before it existed)",
                "live": live["means"]}
    return {"n": live["n"], "psi": compare(reference, live), "live": live["means"],
            "reference": reference.get("means", {})}
