"""Naming the kNN reference rows, so serving can show a ticket's nearest past tickets.

The reference set is a subset of the fit rows (see training/neighbours.py); this
writes, in its order, each row's ticket id (the data's id column, else its row
number in the source), label and masked excerpt — or ids and labels only when
``neighbours.excerpts`` is off. Format and checks: stream/inference/references.py.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from stream.inference.references import NEIGHBOURS_META, write_references

from .config import NeighboursConfig
from .exceptions import TrainingError


def write_reference_tickets(staging: Path, fit, train_df: pd.DataFrame, cfg: NeighboursConfig) -> list[str]:
    """Write ``neighbours_meta.jsonl.gz`` next to ``neighbours.npz``; the file names written (for the manifest)."""
    rows = getattr(fit.neighbours, "rows", None)
    if fit.neighbours is None or rows is None:
        return []
    picked = train_df.iloc[rows]
    if "ticket_id" in picked:
        ids = picked["ticket_id"].astype(str).tolist()
    else:
        ids = [str(i) for i in picked.index]
    labels = fit.neighbours.label_names(fit.labels)
    if picked["label"].astype(str).tolist() != labels:
        raise TrainingError("the kNN reference rows and their labels disagree (a bug in fitting)")
    excerpts = picked["text"].astype(str).tolist() if cfg.excerpts else None
    write_references(staging / NEIGHBOURS_META, ids, labels, excerpts, cfg.excerpt_chars)
    return [NEIGHBOURS_META]
