"""The loop closes: training's Snowflake source reads the sink's tables with the documented SQL."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from schemas.models import ClassifiedEvent, FeedbackEvent
from stream.sink.connection import connection_kwargs
from stream.sink.snowflake import SnowflakeTables, classified_row, feedback_row
from tests.fixtures.downstream import classified_event, feedback_event
from training.config import FeedbackConfig
from training.sources import SnowflakeSource, load_corrections

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
LOADED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def _documented_queries() -> list[str]:
    """The SQL statements of the training block in docs/architecture.md, in order."""
    block = ARCHITECTURE.read_text().split("**Training reads the loop back**", 1)[1].split("```sql", 1)[1].split("```")[0]
    sql = "\n".join(line for line in block.splitlines() if not line.strip().startswith("--"))
    return [q.strip() for q in sql.split(";") if q.strip()]


def test_training_source_reads_corrections_and_human_labels(snowflake_connection, snowflake_settings):
    tables = SnowflakeTables(snowflake_connection, snowflake_settings.table_classified, snowflake_settings.table_feedback)
    tables.ensure()
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(
        classified_event(f"T-{i}", category="Storage", excerpt=f"disk {i} is full")), 0, i, LOADED) for i in range(4)])
    tables.merge(tables.feedback, [feedback_row(FeedbackEvent.model_validate(
        feedback_event("T-2", at="2026-11-24T09:30:00Z", corrected="Hardware")), 0, 0, LOADED)])

    corrections_sql, labels_sql = _documented_queries()
    connection = connection_kwargs(snowflake_settings)

    corrections = load_corrections(FeedbackConfig(query=corrections_sql), connection)
    assert list(corrections[["ticket_id", "corrected_category"]].itertuples(index=False, name=None)) == [("T-2", "Hardware")]
    assert corrections["at"].iloc[0].replace(tzinfo=timezone.utc) == datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)

    frames = list(SnowflakeSource(labels_sql, connection).batches())
    labelled = frames[0]
    assert {c.lower() for c in labelled.columns} >= {"ticket_id", "document", "topic_group"}
    assert len(labelled) == 1  # only the ticket a person labelled
    row = labelled.iloc[0]
    assert (row["TICKET_ID"], row["DOCUMENT"], row["TOPIC_GROUP"], row["LABEL_SOURCE"]) == \
        ("T-2", "disk 2 is full", "Hardware", "human")
