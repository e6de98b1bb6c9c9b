"""The sink's tables on the local emulation through the real connector: MERGE, VARIANT, UTC, the labels view."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from schemas.models import ClassifiedEvent, FeedbackEvent
from stream.sink.snowflake import SnowflakeTables, classified_row, classified_table, feedback_row, feedback_table
from tests.fixtures.downstream import classified_event, feedback_event, multi_label_event

LOADED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def _tables(conn, settings) -> SnowflakeTables:
    tables = SnowflakeTables(conn, settings.table_classified, settings.table_feedback)
    tables.ensure()
    tables.ensure()  # idempotent: a restarted sink finds its tables
    return tables


def _classified(n: int, **overrides) -> list[tuple]:
    return [classified_row(ClassifiedEvent.model_validate(classified_event(f"T-{i}", **overrides)), 0, i, LOADED)
            for i in range(n)]


def _count(conn, table: str) -> int:
    return conn.cursor().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_merge_is_idempotent_and_dedupes_within_a_batch(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    rows = _classified(12)
    tables.merge(tables.classified, rows + rows[:3])  # duplicates inside one batch
    assert _count(snowflake_connection, tables.classified.name) == 12
    tables.merge(tables.classified, rows)              # the same batch replayed
    assert _count(snowflake_connection, tables.classified.name) == 12
    tables.merge(tables.classified, _classified(12, model_version="v2"))  # a new model: new rows
    assert _count(snowflake_connection, tables.classified.name) == 24


def test_top_k_is_queryable_variant_and_timestamps_are_utc(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    source = classified_event("T-V", created_at="2026-11-24T11:02:00+02:00")
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(source), 1, 9, LOADED)])
    runner_up, created = snowflake_connection.cursor().execute(
        f"SELECT TOP_K[1]:category::VARCHAR, CREATED_AT FROM {tables.classified.name} WHERE TICKET_ID = 'T-V'"
    ).fetchone()
    assert runner_up == source["top_k"][1]["category"]
    assert created.replace(tzinfo=timezone.utc) == datetime(2026, 11, 24, 9, 2, tzinfo=timezone.utc)


def test_feedback_is_keyed_on_ticket_and_time(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    first = FeedbackEvent.model_validate(feedback_event("T-1", at="2026-11-24T09:00:00Z", corrected="Hardware"))
    later = FeedbackEvent.model_validate(feedback_event("T-1", at="2026-11-24T09:05:00Z", corrected="Access"))
    rows = [feedback_row(first, 0, 0, LOADED), feedback_row(later, 0, 1, LOADED)]
    tables.merge(tables.feedback, rows)
    tables.merge(tables.feedback, rows)
    assert _count(snowflake_connection, tables.feedback.name) == 2


def test_labels_view_prefers_the_latest_human_correction(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    tables.merge(tables.classified, _classified(3, category="Storage"))
    base = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    corrections = [("T-0", "Hardware", base), ("T-0", "Access", base + timedelta(minutes=5)), ("T-1", "Storage", base)]
    tables.merge(tables.feedback, [
        feedback_row(FeedbackEvent.model_validate(feedback_event(t, at=at.isoformat(), corrected=c)), 0, i, LOADED)
        for i, (t, c, at) in enumerate(corrections)])
    rows = snowflake_connection.cursor().execute(
        f"SELECT TICKET_ID, LABEL, LABEL_SOURCE, PREDICTED_CATEGORY FROM {tables.view} ORDER BY TICKET_ID").fetchall()
    assert rows == [("T-0", "Access", "human", "Storage"), ("T-1", "Storage", "human", "Storage"),
                    ("T-2", "Storage", "model", "Storage")]


def test_language_is_stored_and_shown_in_the_labels_view(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    v2 = classified_event("T-DE", schema_version="2", language="de")
    v1 = classified_event("T-OLD")  # a version-1 event has no language: NULL, not a failure
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(e), 0, i, LOADED)
                                     for i, e in enumerate([v2, v1])])
    cursor = snowflake_connection.cursor()
    stored = cursor.execute(f"SELECT TICKET_ID, LANGUAGE FROM {tables.classified.name} ORDER BY TICKET_ID").fetchall()
    assert stored == [("T-DE", "de"), ("T-OLD", None)]
    viewed = cursor.execute(f"SELECT LANGUAGE FROM {tables.view} WHERE TICKET_ID = 'T-DE'").fetchone()
    assert viewed == ("de",)


def test_ensure_adds_the_language_column_to_a_table_from_an_older_version(snowflake_connection, snowflake_settings):
    new_spec = classified_table(snowflake_settings.table_classified)
    old_spec = replace(new_spec, columns=tuple(c for c in new_spec.columns if c.name != "LANGUAGE"))
    language_at = [c.name for c in new_spec.columns].index("LANGUAGE")
    cursor = snowflake_connection.cursor()
    cursor.execute(old_spec.create_sql())
    old_row = classified_row(ClassifiedEvent.model_validate(classified_event("T-BEFORE")), 0, 0, LOADED)
    cursor.execute(old_spec.merge_sql(1), [v for i, v in enumerate(old_row) if i != language_at])
    tables = _tables(snowflake_connection, snowflake_settings)  # the new sink starts on the old table
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(
        classified_event("T-AFTER", schema_version="2", language="fr")), 0, 1, LOADED)])
    rows = cursor.execute(f"SELECT TICKET_ID, LANGUAGE, CATEGORY FROM {tables.classified.name} "
                          "ORDER BY TICKET_ID").fetchall()
    assert rows == [("T-AFTER", "fr", "Access"), ("T-BEFORE", None, "Access")]
    assert cursor.execute(f"SELECT LANGUAGE FROM {tables.view} WHERE TICKET_ID = 'T-AFTER'").fetchone() == ("fr",)


EVIDENCE = {"neighbours": [{"ticket_id": "4711", "label": "Access", "similarity": 0.91, "excerpt": "vpn"},
                           {"ticket_id": "it's <!channel>", "label": "Storage", "similarity": 0.8}],
            "terms": ["vpn"]}


def test_neighbour_ids_and_labels_are_stored_as_queryable_arrays(snowflake_connection, snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    events = [classified_event("T-EV", schema_version="3", language="en", evidence=EVIDENCE),
              classified_event("T-V2", schema_version="2", language="en"),  # no evidence: NULL
              classified_event("T-NONE", schema_version="3", language="en", evidence={"neighbours": []})]
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(e), 0, i, LOADED)
                                     for i, e in enumerate(events)])
    cursor = snowflake_connection.cursor()
    rows = cursor.execute(
        f"SELECT TICKET_ID, NEIGHBOUR_IDS[0]::VARCHAR, NEIGHBOUR_IDS[1]::VARCHAR, NEIGHBOUR_LABELS[0]::VARCHAR, "
        f"ARRAY_SIZE(NEIGHBOUR_IDS) FROM {tables.classified.name} ORDER BY TICKET_ID").fetchall()
    assert rows == [("T-EV", "4711", "it's <!channel>", "Access", 2), ("T-NONE", None, None, None, 0),
                    ("T-V2", None, None, None, None)]
    # the report the column is for: was the top neighbour's label the final label?
    agree = cursor.execute(
        f"SELECT NEIGHBOUR_LABELS[0]::VARCHAR = CATEGORY FROM {tables.classified.name} "
        f"WHERE TICKET_ID = 'T-EV'").fetchone()
    assert agree == (events[0]["category"] == "Access",)


def test_ensure_adds_the_neighbour_columns_to_a_table_from_an_older_version(snowflake_connection,
                                                                          snowflake_settings):
    new_spec = classified_table(snowflake_settings.table_classified)
    added = {"NEIGHBOUR_IDS", "NEIGHBOUR_LABELS"}
    old_spec = replace(new_spec, columns=tuple(c for c in new_spec.columns if c.name not in added))
    skip = {i for i, c in enumerate(new_spec.columns) if c.name in added}
    cursor = snowflake_connection.cursor()
    cursor.execute(old_spec.create_sql())
    old_row = classified_row(ClassifiedEvent.model_validate(classified_event("T-BEFORE")), 0, 0, LOADED)
    cursor.execute(old_spec.merge_sql(1), [v for i, v in enumerate(old_row) if i not in skip])
    tables = _tables(snowflake_connection, snowflake_settings)  # the new sink starts on the old table
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(
        classified_event("T-AFTER", schema_version="3", language="en", evidence=EVIDENCE)), 0, 1, LOADED)])
    rows = cursor.execute(f"SELECT TICKET_ID, NEIGHBOUR_IDS[0]::VARCHAR FROM {tables.classified.name} "
                          "ORDER BY TICKET_ID").fetchall()
    assert rows == [("T-AFTER", "4711"), ("T-BEFORE", None)]


def test_a_multi_label_set_is_stored_as_queryable_arrays_next_to_single_label_rows(snowflake_connection,
                                                                                    snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    events = [multi_label_event("T-ML"),
              multi_label_event("T-ML-NONE", labels=[], needs_human=True),  # no label reached its threshold
              classified_event("T-SINGLE")]                                  # a single-label version: NULL
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(e), 0, i, LOADED)
                                     for i, e in enumerate(events)])
    cursor = snowflake_connection.cursor()
    rows = cursor.execute(
        f"SELECT TICKET_ID, CATEGORY, LABELS[0]::VARCHAR, LABELS[1]::VARCHAR, ARRAY_SIZE(LABELS), "
        f"LABEL_PROBABILITIES[1]::FLOAT FROM {tables.classified.name} ORDER BY TICKET_ID").fetchall()
    labels = events[0]["labels"]
    assert rows == [("T-ML", labels[0]["label"], labels[0]["label"], labels[1]["label"], len(labels),
                     labels[1]["probability"]),
                    ("T-ML-NONE", labels[0]["label"], None, None, 0, None),
                    ("T-SINGLE", "Access", None, None, None, None)]
    # the query the column is for: every ticket that carries a label
    tagged = cursor.execute(f"SELECT TICKET_ID FROM {tables.classified.name}, LATERAL FLATTEN(input => LABELS) f "
                            f"WHERE f.value::VARCHAR = '{labels[1]['label']}'").fetchall()
    assert tagged == [("T-ML",)]
    viewed = cursor.execute(f"SELECT PREDICTED_LABELS[1]::VARCHAR FROM {tables.view} "
                            f"WHERE TICKET_ID = 'T-ML'").fetchone()
    assert viewed == (labels[1]["label"],)


def test_a_label_edit_is_stored_and_is_no_category_correction_in_the_labels_view(snowflake_connection,
                                                                                  snowflake_settings):
    tables = _tables(snowflake_connection, snowflake_settings)
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(multi_label_event("T-ML")),
                                                    0, 0, LOADED)])
    edit = feedback_event("T-ML", at="2026-12-02T06:20:31Z", corrected="Hardware", previous_category="Hardware",
                          schema_version="2", labels_added=["Security"], labels_removed=["Access"])
    tables.merge(tables.feedback, [feedback_row(FeedbackEvent.model_validate(edit), 0, 0, LOADED),
                                   feedback_row(FeedbackEvent.model_validate(feedback_event(
                                       "T-ML", at="2026-12-02T06:00:00Z", corrected="Storage")), 0, 1, LOADED)])
    cursor = snowflake_connection.cursor()
    stored = cursor.execute(f"SELECT LABELS_ADDED[0]::VARCHAR, LABELS_REMOVED[0]::VARCHAR FROM "
                            f"{tables.feedback.name} WHERE LABELS_ADDED IS NOT NULL").fetchall()
    assert stored == [("Security", "Access")]
    # the later label edit does not hide the earlier category correction
    assert cursor.execute(f"SELECT LABEL, LABEL_SOURCE FROM {tables.view} WHERE TICKET_ID = 'T-ML'"
                          ).fetchall() == [("Storage", "human")]


def test_ensure_adds_the_label_columns_to_tables_from_an_older_version(snowflake_connection, snowflake_settings):
    cursor = snowflake_connection.cursor()
    for new_spec, added in ((classified_table(snowflake_settings.table_classified), {"LABELS", "LABEL_PROBABILITIES"}),
                            (feedback_table(snowflake_settings.table_feedback), {"LABELS_ADDED", "LABELS_REMOVED"})):
        cursor.execute(replace(new_spec, columns=tuple(c for c in new_spec.columns if c.name not in added)).create_sql())
    old = classified_row(ClassifiedEvent.model_validate(classified_event("T-BEFORE")), 0, 0, LOADED)
    skip = {i for i, c in enumerate(classified_table("X").columns) if c.name in {"LABELS", "LABEL_PROBABILITIES"}}
    old_spec = replace(classified_table(snowflake_settings.table_classified), columns=tuple(
        c for i, c in enumerate(classified_table(snowflake_settings.table_classified).columns) if i not in skip))
    cursor.execute(old_spec.merge_sql(1), [v for i, v in enumerate(old) if i not in skip])
    tables = _tables(snowflake_connection, snowflake_settings)  # the new sink starts on the old tables
    tables.merge(tables.classified, [classified_row(ClassifiedEvent.model_validate(multi_label_event("T-AFTER")),
                                                    0, 1, LOADED)])
    tables.merge(tables.feedback, [feedback_row(FeedbackEvent.model_validate(feedback_event(
        "T-AFTER", at="2026-12-02T06:20:31Z", schema_version="2", labels_removed=["Access"])), 0, 0, LOADED)])
    rows = cursor.execute(f"SELECT TICKET_ID, LABELS[1]::VARCHAR FROM {tables.classified.name} "
                          "ORDER BY TICKET_ID").fetchall()
    assert rows == [("T-AFTER", "Access"), ("T-BEFORE", None)]
    assert cursor.execute(f"SELECT LABELS_REMOVED[0]::VARCHAR FROM {tables.feedback.name}").fetchall() == [("Access",)]
