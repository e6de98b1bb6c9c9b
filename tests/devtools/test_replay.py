"""Replay: reading CSV / CSV.gz / Parquet, deterministic valid events, steady rate into a real broker."""
from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from schemas import SCHEMA_VERSION, validate_json_schema
from stream.config import Settings
from stream.exceptions import DataFileError
from stream.devtools.replay import load_rows, replay, ticket_event
from tests.fixtures.kafka_io import assert_standard_headers, read_topic


@pytest.fixture
def frame():
    return pd.DataFrame({"Document": [f"ticket number {i} about the vpn" for i in range(30)],
                         "Topic_group": ["Access", "Hardware", "Storage"] * 10})


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_every_file_format_reads_the_same_rows(tmp_path, frame, suffix):
    path = tmp_path / f"tickets{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    rows = load_rows(path, text_col="Document", label_col="Topic_group", limit=10, skip=5)
    assert rows.indices == list(range(5, 15))
    assert rows.texts[0] == "ticket number 5 about the vpn" and rows.labels[:2] == ["Storage", "Access"]


def test_missing_columns_and_files_are_explained(tmp_path, frame):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFileError, match="--text-col"):
        load_rows(path, text_col="Body")
    with pytest.raises(DataFileError, match="not found"):
        load_rows(tmp_path / "nope.csv")


def test_events_are_valid_deterministic_and_alternate_sources():
    first, second = ticket_event(6, "printer jam", "run1"), ticket_event(7, "printer jam", "run1")
    for event in (first, second):
        validate_json_schema("ticket_event", event)
    assert first["ticket_id"] == "run1-0000006" == ticket_event(6, "other", "run1")["ticket_id"]
    assert (first["source"], second["source"]) == ("chat", "email")


def test_replay_publishes_every_row_at_the_requested_rate(kafka_bootstrap, kafka_topics, tmp_path, frame):
    topics = kafka_topics(partitions=2)
    settings = Settings.from_env({"TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap, **topics.env()})
    rows = load_rows(_write(tmp_path, frame), label_col="Topic_group", limit=20)
    stats = asyncio.run(replay(settings, rows, rate=50, id_prefix="rate", progress=False))
    assert stats.sent == 20 and stats.failed == 0
    assert stats.seconds >= 19 / 50 * 0.95  # paced, not a burst
    assert stats.labels == {"Access": 7, "Hardware": 7, "Storage": 6}

    records = asyncio.run(read_topic(kafka_bootstrap, topics.raw, lambda recs: len(recs) >= 20, 30))
    events = [json.loads(r.value) for r in records]
    assert sorted(e["ticket_id"] for e in events) == [f"rate-{i:07d}" for i in range(20)]
    assert all(r.key.decode() == json.loads(r.value)["ticket_id"] for r in records)
    assert "Access" not in json.dumps(events)  # labels never leak into the events
    for record in records:
        headers = assert_standard_headers(record, "ticket_event", SCHEMA_VERSION, "replay")
        assert headers["ce_subject"] == json.loads(record.value)["ticket_id"]
        assert headers["ce_time"] == json.loads(record.value)["created_at"]


def _write(tmp_path, frame):
    path = tmp_path / "t.csv.gz"
    frame.to_csv(path, index=False)
    return path


def test_rows_with_whole_documents_are_sent_as_they_are(kafka_bootstrap, kafka_topics):
    from stream.devtools.replay import Rows

    topics = kafka_topics(partitions=1)
    settings = Settings.from_env({"TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap, **topics.env()})
    document = {"schema_version": "1", "ticket_id": "mail-de-1", "source": "email", "language": "de-DE",
                "subject": "AW: Drucker", "messages": [{"role": "requester", "text": "Der Drucker streikt."},
                                                       {"role": "agent", "text": "Welcher Drucker?"}],
                "created_at": "2020-01-01T00:00:00Z"}
    rows = Rows(indices=[0, -1], texts=["vpn down", ""], labels=["Access", "Hardware"], events=[None, document])
    stats = asyncio.run(replay(settings, rows, rate=0, id_prefix="mix", progress=False))
    assert stats.sent == 2
    records = asyncio.run(read_topic(kafka_bootstrap, topics.raw, lambda recs: len(recs) >= 2, 30))
    sent = {json.loads(r.value)["ticket_id"]: json.loads(r.value) for r in records}
    assert set(sent) == {"mix-0000000", "mail-de-1"}
    mail = sent["mail-de-1"]
    assert {k: v for k, v in mail.items() if k != "created_at"} == {k: v for k, v in document.items()
                                                                    if k != "created_at"}
    assert mail["created_at"] > "2026"  # stamped at sending, so latency is measured from the publish
    validate_json_schema("ticket_event", mail)
