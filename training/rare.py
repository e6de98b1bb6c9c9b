"""Rare categories: set aside (or fold into a fallback label) before training, never fail on them.

Real assignment-group data has a long tail. A category with a handful of tickets cannot be
split into fit, validation and test parts, cannot get a threshold and cannot be measured, so it
is excluded below ``data.min_class_count`` and listed in the manifest, the model card and the
CLI output. With ``data.rare_label`` the rare categories' tickets are relabelled to that label
instead (an "other" bucket the model can learn); when the bucket is itself still too small it is
set aside like any rare category.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class RareClasses:
    """What happened to the categories below the minimum count (empty when none were)."""

    min_count: int
    fallback: str | None
    set_aside: dict[str, int] = field(default_factory=dict)   # label → rows removed
    mapped: dict[str, int] = field(default_factory=dict)      # label → rows relabelled to fallback

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())

    def as_dict(self) -> dict:
        return {"min_class_count": self.min_count, "fallback_label": self.fallback,
                "set_aside": dict(self.set_aside), "mapped_to_fallback": dict(self.mapped),
                "rows_set_aside": self.rows_set_aside, "rows_mapped": sum(self.mapped.values())}

    def summary(self) -> str | None:
        """One line for the CLI and the model card, None when nothing was rare."""
        parts = []
        if self.mapped:
            parts.append(f"{len(self.mapped)} categories under {self.min_count} examples mapped to "
                         f"{self.fallback!r}: " + ", ".join(f"{k} ({v})" for k, v in self.mapped.items()))
        if self.set_aside:
            parts.append(f"{len(self.set_aside)} categories under {self.min_count} examples set aside "
                         f"({self.rows_set_aside} rows): " + ", ".join(f"{k} ({v})" for k, v in self.set_aside.items()))
        return "; ".join(parts) or None


def handle_rare(frame: pd.DataFrame, min_count: int, fallback: str | None = None) -> tuple[pd.DataFrame, RareClasses]:
    """``frame`` (with a ``label`` column) without its rare categories, and the report of what went."""
    report = RareClasses(min_count=min_count, fallback=fallback)
    counts = frame["label"].value_counts()
    rare = sorted(label for label, n in counts.items() if n < min_count and label != fallback)
    if rare and fallback:
        report.mapped = {label: int(counts[label]) for label in rare}
        frame = frame.assign(label=frame["label"].where(~frame["label"].isin(rare), fallback))
        counts = frame["label"].value_counts()
    still_rare = sorted(label for label, n in counts.items() if n < min_count)
    report.set_aside = {label: int(counts[label]) for label in still_rare}
    if still_rare:
        frame = frame[~frame["label"].isin(still_rare)].reset_index(drop=True)
    if report.summary():
        log.warning("rare categories", extra={"summary": report.summary()})
    return frame, report
