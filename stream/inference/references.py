"""Who the kNN reference tickets are: id, label and a short excerpt per row of ``neighbours.npz``.

``neighbours.npz`` holds vectors and label indices only, which is all the
votes need. To *show* a neighbour, serving needs the ticket it came from, so a
version also ships ``neighbours_meta.jsonl.gz``: a header line, then one line
per reference row in the same order. The excerpt is the training text, already
masked by cleaning, cut to a few words; a training config key leaves it out
(ids and labels only) for data that must not leave the warehouse. Versions
trained before this file existed still load; they show no neighbours.
"""
from __future__ import annotations

import gzip
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .exceptions import ModelLoadError

log = logging.getLogger(__name__)

NEIGHBOURS_META = "neighbours_meta.jsonl.gz"
FORMAT = "neighbours_meta/1"
EXCERPT_CHARS = 160
ID_MAX_CHARS = 256  # a TicketEvent's ticket_id limit


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, on a word boundary (a masked token is never split)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


@dataclass(frozen=True)
class ReferenceTickets:
    """Row ``i`` describes reference vector ``i`` of the kNN block."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    excerpts: tuple[str, ...] | None  # None: the version was trained with excerpts off

    def __len__(self) -> int:
        return len(self.ids)


def write_references(path: Path, ids: Sequence[str], labels: Sequence[str], excerpts: Sequence[str] | None,
                     excerpt_chars: int = EXCERPT_CHARS) -> None:
    """Write the file deterministically (gzip mtime 0), so the same data gives the same sha256."""
    if len(ids) != len(labels) or (excerpts is not None and len(excerpts) != len(ids)):
        raise ValueError("ids, labels and excerpts must have one entry per reference row")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as out:
        header = {"format": FORMAT, "rows": len(ids), "excerpts": excerpts is not None}
        out.write(json.dumps(header) + "\n")
        for i, (ticket_id, label) in enumerate(zip(ids, labels)):
            row = {"id": str(ticket_id)[:ID_MAX_CHARS], "label": str(label)}
            if excerpts is not None:
                row["excerpt"] = cut(str(excerpts[i]), excerpt_chars)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_references(version_dir: Path, manifest: dict, neighbours, labels: Sequence[str]) -> ReferenceTickets | None:
    """The version's reference tickets, None when it has none; :class:`ModelLoadError` when damaged."""
    path = Path(version_dir) / NEIGHBOURS_META
    if neighbours is None:
        return None
    if not path.is_file():
        if NEIGHBOURS_META in (manifest.get("files") or {}):
            raise ModelLoadError(version_dir, f"{NEIGHBOURS_META} is listed in the manifest but missing")
        log.info("no reference tickets: predictions carry no neighbour evidence",
                 extra={"version": manifest.get("version"), "missing": NEIGHBOURS_META})
        return None
    try:
        references = _read(path)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(version_dir, f"{NEIGHBOURS_META} unreadable: {exc}") from None
    expected = neighbours.label_names(labels)
    if len(references) != len(expected) or list(references.labels) != expected:
        raise ModelLoadError(version_dir, f"{NEIGHBOURS_META} does not describe the rows of neighbours.npz "
                                          f"({len(references)} rows for {len(expected)} reference vectors)")
    return references


def _read(path: Path) -> ReferenceTickets:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"unknown format {header!r:.80}")
        with_excerpts = bool(header["excerpts"])
        ids, labels, excerpts = [], [], []
        for line in fh:
            row = json.loads(line)
            ticket_id, label = row["id"], row["label"]
            if not isinstance(ticket_id, str) or not ticket_id or len(ticket_id) > ID_MAX_CHARS \
                    or not isinstance(label, str):
                raise ValueError(f"bad row {len(ids) + 1}")
            ids.append(ticket_id)
            labels.append(label)
            if with_excerpts:
                text = row["excerpt"]
                if not isinstance(text, str):
                    raise ValueError(f"bad excerpt on row {len(ids)}")
                excerpts.append(text[:EXCERPT_CHARS * 2])
    if len(ids) != header["rows"]:
        raise ValueError(f"{len(ids)} rows, the header says {header['rows']} (truncated?)")
    return ReferenceTickets(tuple(ids), tuple(labels), tuple(excerpts) if with_excerpts else None)
