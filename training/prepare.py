"""Raw rows → cleaned training examples, counting why each dropped row was dropped.

Rows are assembled with the serving code (:func:`stream.inference.clean.flatten_conversation`),
so training sees exactly the text the stream worker will produce.
"""
from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import pandas as pd
from tqdm.auto import tqdm

from stream.inference.clean import flatten_conversation, masking_ratio, row_to_ticket
from stream.inference.language import normalise
from stream.inference.multilabel import JOIN

from .config import ColumnsConfig, TrainConfig
from .exceptions import DataSourceError

log = logging.getLogger(__name__)

DROP_REASONS = ("missing_label", "unknown_label", "auto_generated", "empty", "too_masked", "duplicate")


@dataclass
class PreparedData:
    """Usable examples (``ticket_id``, ``text``, ``label``, ``language``) plus the bookkeeping of the run.

    ``language`` is the language column's primary subtag when ``data.columns.language`` names one
    (None where empty), else None everywhere: :mod:`training.languages` detects what is missing.
    """

    frame: pd.DataFrame
    rows_read: int
    drop_reasons: dict[str, int] = field(default_factory=dict)
    corrections_applied: int = 0

    def fingerprint(self) -> str:
        """Content hash of the examples, order-independent, so the manifest can name the data."""
        digest = hashlib.sha256()
        for line in sorted(f"{label}\t{text}" for label, text in zip(self.frame["label"], self.frame["text"])):
            digest.update(line.encode())
            digest.update(b"\n")
        return digest.hexdigest()


def resolve_columns(available: Iterable[str], spec: ColumnsConfig) -> dict[str, object]:
    """Map configured names to the table's real names, case-insensitively."""
    by_lower = {str(c).lower(): c for c in available}

    def find(name: str) -> str:
        try:
            return by_lower[name.lower()]
        except KeyError:
            raise DataSourceError(f"column {name!r} not found; the data has: {', '.join(map(str, by_lower.values()))}")

    return {
        "text": [find(c) for c in spec.text],
        "label": find(spec.label),
        "more_labels": [find(c) for c in spec.more_labels],
        "id": find(spec.id) if spec.id else None,
        "triage": [find(c) for c in spec.triage],
        "language": find(spec.language) if spec.language else None,
    }


def latest_corrections(corrections: pd.DataFrame | None, id_col="ticket_id", category_col="corrected_category",
                       at_col="at") -> dict[str, str]:
    """ticket id → corrected category, the latest correction winning."""
    if corrections is None or corrections.empty:
        return {}
    missing = [c for c in (id_col, category_col, at_col) if c not in corrections.columns]
    if missing:
        raise DataSourceError(f"feedback table lacks column(s) {missing}; it has {list(corrections.columns)}")
    df = corrections.assign(_at=pd.to_datetime(corrections[at_col], utc=True, errors="coerce"))
    df = df.dropna(subset=[category_col]).sort_values("_at", kind="stable")
    return {str(k): str(v) for k, v in zip(df[id_col], df[category_col])}


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


def label_set(cells: Iterable, separator: str, known: set[str] | None) -> tuple[str | None, str | None]:
    """Multi-label: the label cells of a row → (the set as one sorted ``|``-joined string, drop reason).

    Labels outside ``known`` are left out of the set; a row keeps going while one label remains.
    """
    labels: set[str] = set()
    for cell in cells:
        if not _is_missing(cell):
            labels.update(part.strip() for part in str(cell).split(separator) if part.strip())
    if not labels:
        return None, "missing_label"
    if JOIN != separator and any(JOIN in label for label in labels):
        raise DataSourceError(f"label names must not contain {JOIN!r}: {sorted(labels)}")
    if known is not None:
        labels &= known
        if not labels:
            return None, "unknown_label"
    return JOIN.join(sorted(labels)), None


def prepare(batches: Iterable[pd.DataFrame], config: TrainConfig, corrections: Mapping[str, str] | None = None,
            progress: bool = True) -> PreparedData:
    """Clean and filter chunk by chunk; duplicates are detected across chunks."""
    known = set(config.data.labels) if config.data.labels else None
    multi, separator = config.data.multi_label, config.data.label_separator
    patterns = config.clean.mask_patterns
    max_ratio = config.clean.max_masking_ratio
    corrections = corrections or {}
    if corrections and not config.data.columns.id:
        raise DataSourceError("feedback corrections need an id column (data.columns.id / --id-col)")
    reasons: Counter[str] = Counter()
    seen: set[bytes] = set()
    rows: list[tuple[str, str, str, str | None]] = []
    n_read = 0
    n_corrected = 0
    bar = tqdm(desc="cleaning", unit="rows", disable=not progress)
    for chunk in batches:
        cols = resolve_columns(chunk.columns, config.data.columns)
        for rec in chunk.to_dict("records"):
            n_read += 1
            ticket_id = rec[cols["id"]] if cols["id"] else n_read - 1
            label = rec[cols["label"]]
            if not _is_missing(ticket_id) and str(ticket_id) in corrections:
                label = corrections[str(ticket_id)]
                n_corrected += 1
            if multi:
                label, reason = label_set([label] + [rec[c] for c in cols["more_labels"]], separator, known)
                if reason:
                    reasons[reason] += 1
                    continue
            elif _is_missing(label):
                reasons["missing_label"] += 1
                continue
            label = str(label).strip()
            if known is not None and not multi and label not in known:
                reasons["unknown_label"] += 1
                continue
            triage = {c: rec[c] for c in cols["triage"]}
            conv = flatten_conversation(row_to_ticket([rec[c] for c in cols["text"]], triage), patterns)
            if conv.auto_generated:
                reasons["auto_generated"] += 1
                continue
            if not conv.body:
                reasons["empty"] += 1
                continue
            if masking_ratio(conv.body, patterns) > max_ratio:
                reasons["too_masked"] += 1
                continue
            text = conv.text
            key = hashlib.blake2b(text.encode(), digest_size=16).digest()
            if key in seen:
                reasons["duplicate"] += 1
                continue
            seen.add(key)
            lang = normalise(str(rec[cols["language"]])) if cols["language"] and not _is_missing(
                rec[cols["language"]]) else None
            rows.append((str(ticket_id), text, label, lang))
        bar.update(len(chunk))
    bar.close()
    frame = pd.DataFrame(rows, columns=["ticket_id", "text", "label", "language"])
    dropped = {r: reasons.get(r, 0) for r in DROP_REASONS}
    log.info("training rows read", extra={"rows_read": n_read, "kept": len(frame), "dropped": dropped,
                                          "labels_corrected": n_corrected})
    return PreparedData(frame=frame, rows_read=n_read, drop_reasons=dropped, corrections_applied=n_corrected)
