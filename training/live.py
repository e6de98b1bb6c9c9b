"""What the sink stored for a time window: each arm's predictions and the tickets' human labels.

The classified table's key is (ticket id, model version), so in shadow mode
both arms' answers to one ticket are two rows; an arm is found by its model
version. A ticket's label is its latest Slack feedback, whether a correction
(another category) or a confirmation (the same one): both are a person's word.
Connection and table names are the sink's own settings (``TICKETS_SNOWFLAKE_*``,
``TICKETS_SINK_TABLE_*``).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd

from .exceptions import DataSourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def last(cls, days: float, until: datetime | None = None) -> "Window":
        until = until or datetime.now(timezone.utc)
        return cls(until - timedelta(days=days), until)

    def params(self) -> dict:
        return {"since": _utc_text(self.since), "until": _utc_text(self.until)}

    def as_dict(self) -> dict:
        return {"since": self.since.isoformat(timespec="seconds"), "until": self.until.isoformat(timespec="seconds")}


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class LiveData:
    predictions: pd.DataFrame   # ticket_id, model_version, category, top_k (list), needs_human, confidence, ...
    labels: dict[str, str]      # ticket_id -> latest human label
    confirmations: int          # labels that confirmed the prediction they were given on
    corrections: int


def _predictions_sql(table: str, versions: int) -> str:
    marks = ", ".join(f"%(v{i})s" for i in range(versions))
    return (f"SELECT TICKET_ID, MODEL_VERSION, CATEGORY, TOP_K, NEEDS_HUMAN, CONFIDENCE, EXCERPT, LANGUAGE "
            f"FROM {table} WHERE PROCESSED_AT >= TO_TIMESTAMP_NTZ(%(since)s) "
            f"AND PROCESSED_AT < TO_TIMESTAMP_NTZ(%(until)s) AND MODEL_VERSION IN ({marks})")


def _labels_sql(classified: str, feedback: str) -> str:
    return (f"SELECT TICKET_ID, CORRECTED_CATEGORY, PREVIOUS_CATEGORY FROM {feedback} "
            f"WHERE TICKET_ID IN (SELECT TICKET_ID FROM {classified} "
            f"WHERE PROCESSED_AT >= TO_TIMESTAMP_NTZ(%(since)s) AND PROCESSED_AT < TO_TIMESTAMP_NTZ(%(until)s)) "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY TICKET_ID ORDER BY FEEDBACK_AT DESC) = 1")


def _top_categories(value) -> list[str]:
    items = json.loads(value) if isinstance(value, str) else (value or [])
    return [item["category"] if isinstance(item, dict) else str(item) for item in items]


def read_live(conn, classified: str, feedback: str, window: Window, versions: list[str]) -> LiveData:
    """The stored predictions of ``versions`` in ``window`` and the latest human label of their tickets."""
    params = window.params() | {f"v{i}": v for i, v in enumerate(versions)}
    try:
        cur = conn.cursor()
        cur.execute(_predictions_sql(classified, len(versions)), params)
        columns = [d[0].lower() for d in cur.description]
        predictions = pd.DataFrame.from_records(cur.fetchall(), columns=columns)
        cur.execute(_labels_sql(classified, feedback), window.params())
        rows = cur.fetchall()
    except Exception as exc:  # noqa: BLE001 - the connector raises many types
        raise DataSourceError(f"cannot read the sink's tables {classified}, {feedback}: {exc}") from exc
    if predictions.empty:
        predictions = pd.DataFrame(columns=columns)
    predictions["top_k"] = [_top_categories(v) for v in predictions["top_k"]]
    predictions["needs_human"] = predictions["needs_human"].astype(bool)
    labels = {str(t): str(c) for t, c, _ in rows}
    confirmations = sum(1 for _, c, p in rows if p is not None and c == p)
    log.info("read the live comparison's data", extra={"predictions": len(predictions), "labels": len(labels),
                                                        "window": window.as_dict()})
    return LiveData(predictions, labels, confirmations, len(labels) - confirmations)


def connect_sink_tables(env=None):
    """(connection, classified table, feedback table) from the sink's settings."""
    from stream.downstream.settings import SnowflakeSettings
    from stream.sink.connection import connect

    settings = SnowflakeSettings.from_env(env)
    return connect(settings), settings.table_classified, settings.table_feedback
