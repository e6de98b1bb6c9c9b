"""Champion and challenger rows in one table: which arm, which version, shadow or served; the labels view ignores shadows."""
from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from schemas.models import ClassifiedEvent, ShadowClassifiedEvent
from stream.downstream.settings import SnowflakeSettings
from stream.sink import metrics as sink_metrics
from stream.sink.runner import SnowflakeSink
from stream.sink.snowflake import SnowflakeTables, classified_row, classified_table
from tests.fixtures.downstream import as_records, classified_event, settings_for, wait_until

LOADED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
EXAMPLES = Path(str(resources.files("schemas"))) / "examples"
CHAMPION, CHALLENGER = "20261124T091500Z-3fa2c1", "20261201T030000Z-7be410"


def shadow_event(ticket_id: str, champion_category: str | None = "Access", **overrides) -> dict:
    """A valid ShadowClassifiedEvent (the schema's example) for ``ticket_id``, its own event id."""
    event = json.loads((EXAMPLES / "shadow_classified_event" / "agrees.json").read_text())
    event.update(ticket_id=ticket_id, model_version=CHALLENGER, champion_version=CHAMPION,
                 champion_category=champion_category,
                 event_id=hashlib.sha256(f"{ticket_id}|{CHALLENGER}".encode()).hexdigest()[:32])
    event.update(overrides)
    return event


def _tables(conn, settings) -> SnowflakeTables:
    tables = SnowflakeTables(conn, settings.table_classified, settings.table_feedback)
    tables.ensure()
    return tables


def test_both_arms_are_stored_and_the_labels_view_shows_the_served_one(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    served = ClassifiedEvent.model_validate(classified_event("T-1", schema_version="4", language="en",
                                                             arm="champion", category="Access"))
    split = ClassifiedEvent.model_validate(classified_event("T-2", schema_version="4", language="en",
                                                            arm="challenger", model_version=CHALLENGER))
    # the shadow answer is newer and disagrees: it must still not become the ticket's prediction
    shadow = ShadowClassifiedEvent.model_validate(shadow_event("T-1", category="Hardware",
                                                               processed_at="2026-11-24T09:30:00Z"))
    rows = [classified_row(served, 0, 0, LOADED), classified_row(split, 0, 1, LOADED),
            classified_row(shadow, 0, 0, LOADED, shadow=True)]
    tables.merge(tables.classified, rows)
    tables.merge(tables.classified, rows)  # a replay rewrites the same three rows
    cursor = snowflake_connection.cursor()
    stored = cursor.execute(f"SELECT TICKET_ID, ARM, MODEL_VERSION, SHADOW, CATEGORY FROM {tables.classified.name} "
                            "ORDER BY TICKET_ID, SHADOW").fetchall()
    assert stored == [("T-1", "champion", served.model_version, False, "Access"),
                      ("T-1", "challenger", CHALLENGER, True, "Hardware"),
                      ("T-2", "challenger", CHALLENGER, False, split.category)]
    view = cursor.execute(f"SELECT TICKET_ID, PREDICTED_CATEGORY, MODEL_VERSION FROM {tables.view} "
                          "ORDER BY TICKET_ID").fetchall()
    assert view == [("T-1", "Access", served.model_version), ("T-2", split.category, CHALLENGER)]
    # what the comparison report joins on: both arms' answers for one ticket
    pair = cursor.execute(
        f"SELECT c.CATEGORY, s.CATEGORY FROM {tables.classified.name} c JOIN {tables.classified.name} s "
        f"ON c.TICKET_ID = s.TICKET_ID AND s.SHADOW AND NOT c.SHADOW").fetchall()
    assert pair == [("Access", "Hardware")]


def test_ensure_adds_the_arm_columns_to_an_older_table_whose_rows_read_as_served(snowflake_connection,
                                                                              snowflake_settings):
    new_spec = classified_table(snowflake_settings.table_classified)
    added = {"ARM", "SHADOW"}
    old_spec = replace(new_spec, columns=tuple(c for c in new_spec.columns if c.name not in added))
    skip = {i for i, c in enumerate(new_spec.columns) if c.name in added}
    cursor = snowflake_connection.cursor()
    cursor.execute(old_spec.create_sql())
    old_row = classified_row(ClassifiedEvent.model_validate(classified_event("T-OLD")), 0, 0, LOADED)
    cursor.execute(old_spec.merge_sql(1), [v for i, v in enumerate(old_row) if i not in skip])
    tables = _tables(snowflake_connection, snowflake_settings)
    tables.merge(tables.classified, [classified_row(ShadowClassifiedEvent.model_validate(shadow_event("T-OLD")),
                                                    0, 1, LOADED, shadow=True)])
    rows = cursor.execute(f"SELECT ARM, SHADOW FROM {tables.classified.name} ORDER BY MODEL_VERSION").fetchall()
    assert rows == [(None, None), ("challenger", True)]
    assert cursor.execute(f"SELECT MODEL_VERSION FROM {tables.view}").fetchall() == [(CHAMPION,)]


def test_the_sink_consumes_the_shadow_topic_into_the_same_table(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                               snowflake_env, snowflake_connection):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    snowflake = SnowflakeSettings.from_env(snowflake_env | {
        "TICKETS_SINK_GROUP_ID": kafka_group_id("sink"), "TICKETS_SINK_BATCH_SIZE": "16",
        "TICKETS_SINK_BATCH_INTERVAL_S": "0.3", "TICKETS_SINK_BACKOFF_S": "0.1"})
    served = [classified_event(f"T-{i}", schema_version="4", language="en", arm="champion") for i in range(6)]
    shadows = [shadow_event(f"T-{i}") for i in range(6)] + [shadow_event("T-x", champion_version="")]  # invalid
    table = snowflake.table_classified

    async def scenario():
        from tests.fixtures.downstream import produce

        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(served))
        await produce(kafka_bootstrap, settings.kafka.topic_classified_shadow, as_records(shadows))
        sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        sample = sink.metrics.registry.get_sample_value
        done = lambda: ((sample("tickets_sink_rows_written_total", {"table": table}) or 0) >= 12
                        and sample("tickets_sink_rejected_total", {"table": table}) == 1)
        try:
            await wait_until(lambda: task.done() or done(), 30, what="the sink to write its rows")
        finally:
            stop.set()
            await task
        return sink

    sink = asyncio.run(scenario())
    rows = snowflake_connection.cursor().execute(
        f"SELECT SHADOW, ARM, MODEL_VERSION, COUNT(*) FROM {table} GROUP BY 1, 2, 3 ORDER BY 1").fetchall()
    assert rows == [(False, "champion", CHAMPION, 6), (True, "challenger", CHALLENGER, 6)]
    assert sink.metrics.registry.get_sample_value("tickets_sink_rejected_total", {"table": table}) == 1
