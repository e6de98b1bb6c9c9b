"""Which languages a training or evaluation set holds: its language column where given, else detected.

The same detector as the worker (:mod:`stream.inference.language`, restricted
to ``TICKETS_LANGUAGES``) runs on the same cleaned text, so the manifest's
counts and the evaluation's per-language slices use the labels that
``ClassifiedEvent.language`` will carry in production.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd

from stream.inference import language


def resolve(frame: pd.DataFrame) -> list[str]:
    """One language per row: the row's ``language`` value when usable, else detected on its ``text``."""
    sent = frame["language"].tolist() if "language" in frame.columns else [None] * len(frame)
    return language.detector().detect_many(frame["text"].tolist(), sent)


def source(frame: pd.DataFrame) -> str:
    """``column``, ``detected`` or ``column+detected`` (some rows had no usable value)."""
    if "language" not in frame.columns:
        return "detected"
    given = frame["language"].map(lambda v: language.normalise(v) not in (None, language.UNDETERMINED))
    if given.all():
        return "column"
    return "column+detected" if given.any() else "detected"


def counts(languages: list[str]) -> dict[str, int]:
    """Language → rows, most frequent first (ties by code, so the manifest is stable)."""
    return dict(sorted(Counter(languages).items(), key=lambda kv: (-kv[1], kv[0])))


def describe(frame: pd.DataFrame, languages: list[str]) -> dict:
    """The manifest's ``data.languages`` entry."""
    return {"counts": counts(languages), "source": source(frame),
            "detector": {"library": "py3langid", "languages": list(language.detector().languages),
                         "min_confidence": language.detector().min_confidence}}
