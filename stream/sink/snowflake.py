"""The tables the sink writes, and the idempotent MERGE that writes them.

Each batch is one ``MERGE`` per table: rows arrive as a ``VALUES`` list (JSON
kept as text there, because Snowflake allows only constants in ``VALUES``;
``PARSE_JSON`` runs in the ``SELECT`` above it), duplicates inside the batch
are removed with ``QUALIFY`` (Snowflake refuses a MERGE where two source rows
hit one target row), and the key decides insert or update. Replaying a batch
therefore rewrites the same rows instead of adding new ones.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    source: str = ""  # expression over the VALUES column, when not the column itself
    added: bool = False  # added after the table's first release: ensure() adds it to older tables


@dataclass(frozen=True)
class TableSpec:
    """A sink table: its columns (in VALUES order), merge key and ordering column."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    newest_first: str  # which duplicate inside a batch wins

    def create_sql(self) -> str:
        cols = ",\n  ".join(f"{c.name} {c.type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {cols}\n)"

    def add_columns_sql(self) -> list[str]:
        """Bring a table created by an older version up to date (columns land at the end; MERGE names them)."""
        return [f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {c.name} {c.type}"
                for c in self.columns if c.added]

    def merge_sql(self, n_rows: int) -> str:
        width = len(self.columns)
        row = "(" + ", ".join(["%s"] * width) + ")"
        values = ",\n    ".join([row] * n_rows)
        select = ", ".join(
            f"{(c.source or '{col}').format(col=f'column{i + 1}')} AS {c.name}" for i, c in enumerate(self.columns)
        )
        # QUALIFY names the raw VALUES columns: the aliases equal the target's
        # column names, which some engines resolve against the target instead
        position = {c.name: f"column{i + 1}" for i, c in enumerate(self.columns)}
        key_cols = ", ".join(position[k] for k in self.key)
        newest = position[self.newest_first]
        on = " AND ".join(f"t.{k} = s.{k}" for k in self.key)
        non_key = [c.name for c in self.columns if c.name not in self.key]
        update = ", ".join(f"{c} = s.{c}" for c in non_key)
        names = ", ".join(c.name for c in self.columns)
        inserted = ", ".join(f"s.{c.name}" for c in self.columns)
        return (
            f"MERGE INTO {self.name} t USING (\n"
            f"  SELECT {select}\n  FROM VALUES\n    {values}\n"
            f"  QUALIFY ROW_NUMBER() OVER (PARTITION BY {key_cols} ORDER BY {newest} DESC) = 1\n"
            f") s ON {on}\n"
            f"WHEN MATCHED THEN UPDATE SET {update}\n"
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({inserted})"
        )


_TS = "TO_TIMESTAMP_NTZ({col})"  # values are UTC ISO strings; NTZ columns hold UTC by contract


def classified_table(name: str) -> TableSpec:
    return TableSpec(
        name=name,
        columns=(
            Column("TICKET_ID", "VARCHAR NOT NULL"),
            Column("MODEL_VERSION", "VARCHAR NOT NULL"),
            Column("EVENT_ID", "VARCHAR NOT NULL"),
            Column("CATEGORY", "VARCHAR NOT NULL"),
            Column("CONFIDENCE", "FLOAT"),
            Column("TOP_K", "VARIANT", "PARSE_JSON({col})"),
            Column("NEEDS_HUMAN", "BOOLEAN"),
            Column("EMBEDDER_ID", "VARCHAR"),
            Column("EXCERPT", "VARCHAR"),
            Column("SUBJECT", "VARCHAR"),
            Column("SOURCE", "VARCHAR"),
            Column("LANGUAGE", "VARCHAR", added=True),
            # the evidence's nearest training tickets, closest first (NULL without evidence): with
            # the human label, a report can tell how often the top neighbour's label was right
            Column("NEIGHBOUR_IDS", "VARIANT", "PARSE_JSON({col})", added=True),
            Column("NEIGHBOUR_LABELS", "VARIANT", "PARSE_JSON({col})", added=True),
            # a multi-label version's predicted set, most probable first, and each label's probability
            # (same order); NULL for a single-label version, [] when no label reached its threshold
            Column("LABELS", "VARIANT", "PARSE_JSON({col})", added=True),
            Column("LABEL_PROBABILITIES", "VARIANT", "PARSE_JSON({col})", added=True),
            Column("CREATED_AT", "TIMESTAMP_NTZ", _TS),
            Column("PROCESSED_AT", "TIMESTAMP_NTZ", _TS),
            Column("INFERENCE_MS", "FLOAT"),
            Column("END_TO_END_MS", "FLOAT"),
            Column("KAFKA_PARTITION", "INTEGER"),
            Column("KAFKA_OFFSET", "BIGINT"),
            Column("LOADED_AT", "TIMESTAMP_NTZ", _TS),
            # which registry alias answered (NULL on rows of workers before aliases: the champion) and
            # whether the answer was only a shadow one (the challenger beside the champion, never acted on)
            Column("ARM", "VARCHAR", added=True),
            Column("SHADOW", "BOOLEAN", added=True),
        ),
        key=("TICKET_ID", "MODEL_VERSION"),
        newest_first="PROCESSED_AT",
    )


def feedback_table(name: str) -> TableSpec:
    return TableSpec(
        name=name,
        columns=(
            Column("TICKET_ID", "VARCHAR NOT NULL"),
            Column("FEEDBACK_AT", "TIMESTAMP_NTZ NOT NULL", _TS),
            Column("CORRECTED_CATEGORY", "VARCHAR NOT NULL"),
            Column("PREVIOUS_CATEGORY", "VARCHAR"),
            Column("MODEL_VERSION", "VARCHAR"),
            Column("USER_NAME", "VARCHAR"),
            Column("CHANNEL", "VARCHAR"),
            Column("SOURCE", "VARCHAR"),
            # a label edit of a multi-label ticket (NULL on a category correction): it corrects no category
            Column("LABELS_ADDED", "VARIANT", "PARSE_JSON({col})", added=True),
            Column("LABELS_REMOVED", "VARIANT", "PARSE_JSON({col})", added=True),
            Column("KAFKA_PARTITION", "INTEGER"),
            Column("KAFKA_OFFSET", "BIGINT"),
            Column("LOADED_AT", "TIMESTAMP_NTZ", _TS),
        ),
        key=("TICKET_ID", "FEEDBACK_AT"),
        newest_first="KAFKA_OFFSET",
    )


def labels_view_sql(view: str, classified: str, feedback: str) -> str:
    """The training-side contract: one row per ticket with its best known label.

    ``LABEL`` is the latest human correction when there is one, else the
    model's own (confident) prediction; ``LABEL_SOURCE`` says which, so
    training can keep only human labels or weigh pseudo-labels down. Shadow
    rows (a challenger's answer nobody acted on) are never a ticket's prediction.
    Label edits (multi-label tickets) correct no category and are left out here;
    ``PREDICTED_LABELS`` carries a multi-label version's set.
    """
    return f"""CREATE OR REPLACE VIEW {view} AS
WITH latest_prediction AS (
  SELECT * FROM {classified}
  WHERE SHADOW IS NULL OR NOT SHADOW
  QUALIFY ROW_NUMBER() OVER (PARTITION BY TICKET_ID ORDER BY PROCESSED_AT DESC) = 1
), latest_feedback AS (
  SELECT TICKET_ID, CORRECTED_CATEGORY, FEEDBACK_AT, USER_NAME FROM {feedback}
  WHERE LABELS_ADDED IS NULL AND LABELS_REMOVED IS NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY TICKET_ID ORDER BY FEEDBACK_AT DESC) = 1
)
SELECT p.TICKET_ID, p.SUBJECT, p.EXCERPT, p.SOURCE, p.LANGUAGE, p.CREATED_AT,
       p.CATEGORY AS PREDICTED_CATEGORY, p.CONFIDENCE, p.NEEDS_HUMAN, p.MODEL_VERSION,
       p.LABELS AS PREDICTED_LABELS,
       COALESCE(f.CORRECTED_CATEGORY, p.CATEGORY) AS LABEL,
       IFF(f.TICKET_ID IS NULL, 'model', 'human') AS LABEL_SOURCE,
       f.FEEDBACK_AT AS LABELLED_AT, f.USER_NAME AS LABELLED_BY
FROM latest_prediction p
LEFT JOIN latest_feedback f ON f.TICKET_ID = p.TICKET_ID"""


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def classified_row(event, partition: int, offset: int, loaded_at: datetime, shadow: bool = False) -> tuple:
    """One ``ClassifiedEvent`` (or ``ShadowClassifiedEvent``, ``shadow=True``) as a VALUES row of :func:`classified_table`."""
    top_k = [{"category": c.category, "probability": c.probability} for c in event.top_k]
    return (
        event.ticket_id, event.model_version, event.event_id, event.category, float(event.confidence),
        json.dumps(top_k), bool(event.needs_human), event.embedder_id, event.excerpt, event.subject,
        event.source, event.language, *_neighbours(event), *_label_set(event), _utc_text(event.created_at), _utc_text(event.processed_at),
        _float_or_none(event.inference_ms), _float_or_none(event.end_to_end_ms),
        partition, offset, _utc_text(loaded_at), event.arm or "champion", shadow,
    )


def feedback_row(event, partition: int, offset: int, loaded_at: datetime) -> tuple:
    """One ``FeedbackEvent`` (pydantic) as a VALUES row of :func:`feedback_table`."""
    return (
        event.ticket_id, _utc_text(event.at), event.corrected_category, event.previous_category,
        event.model_version, event.user, event.channel, event.source, _json_or_none(event.labels_added),
        _json_or_none(event.labels_removed), partition, offset, _utc_text(loaded_at),
    )


def _neighbours(event) -> tuple[str | None, str | None]:
    """(ids, labels) of the evidence's neighbours as JSON arrays, or NULLs for an event without evidence."""
    evidence = getattr(event, "evidence", None)
    if evidence is None:
        return None, None
    return (json.dumps([n.ticket_id for n in evidence.neighbours]),
            json.dumps([n.label for n in evidence.neighbours]))


def _label_set(event) -> tuple[str | None, str | None]:
    """(labels, probabilities) of a multi-label answer as JSON arrays, or NULLs for a single-label one."""
    labels = getattr(event, "labels", None)
    if labels is None:
        return None, None
    return json.dumps([item.label for item in labels]), json.dumps([float(item.probability) for item in labels])


def _json_or_none(values) -> str | None:
    return None if values is None else json.dumps(list(values))


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


class SnowflakeTables:
    """Creates the sink's tables and view, and merges batches into them."""

    def __init__(self, connection, classified: str, feedback: str, view: str = "TICKET_LABELS"):
        self._conn = connection
        self.classified = classified_table(classified)
        self.feedback = feedback_table(feedback)
        self.view = view

    def ensure(self) -> None:
        with self._conn.cursor() as cur:
            for table in (self.classified, self.feedback):
                cur.execute(table.create_sql())
                for statement in table.add_columns_sql():
                    cur.execute(statement)
            cur.execute(labels_view_sql(self.view, self.classified.name, self.feedback.name))

    def merge(self, table: TableSpec, rows: Sequence[tuple]) -> int:
        """Merge ``rows`` into ``table``; returns how many rows Snowflake reported touched."""
        if not rows:
            return 0
        params: list[Any] = [value for row in rows for value in row]
        with self._conn.cursor() as cur:
            cur.execute(table.merge_sql(len(rows)), params)
            touched = cur.fetchone()
        return sum(int(x or 0) for x in touched) if touched else 0
