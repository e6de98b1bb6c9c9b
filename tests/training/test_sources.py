"""Data sources: local files in every format, and Snowflake through the real connector (fakesnow)."""
from __future__ import annotations

import uuid

import pandas as pd
import pytest

from training.config import load_config
from training.exceptions import DataSourceError
from training.prepare import latest_corrections, prepare
from training.sources import LocalFileSource, SnowflakeSource, load_corrections

ROWS = pd.DataFrame({
    "id": [f"T{i}" for i in range(7)],
    "subject": ["VPN down", "Laptop", "", "Access", "Printer", "Out of office", "Monitor"],
    "body": ["cannot connect to vpn", "screen cracked", "", "need sap access", "paper jam", "Automatic reply: away",
             "order a second monitor"],
    "category": ["Access", "Hardware", "Hardware", "Access", "Hardware", "Access", "Purchase"],
})


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_local_file_formats_stream_in_chunks(tmp_path, suffix):
    path = tmp_path / f"tickets{suffix}"
    ROWS.to_parquet(path) if suffix == ".parquet" else ROWS.to_csv(path, index=False)
    chunks = list(LocalFileSource(path, chunk_rows=3).batches())
    assert [len(c) for c in chunks] == [3, 3, 1]
    got = pd.concat(chunks, ignore_index=True)
    assert got["body"].fillna("").tolist() == ROWS["body"].tolist()


def test_local_file_errors(tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        LocalFileSource(tmp_path / "missing.csv")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataSourceError, match="unsupported"):
        list(LocalFileSource(tmp_path / "x.xlsx").batches())


@pytest.fixture
def snowflake_tables(snowflake_server):
    """Connection kwargs for a fresh schema holding a ticket table and a feedback table."""
    import snowflake.connector

    kwargs = {"account": "fakesnow", "user": "fake", "password": "snow", "host": snowflake_server.host,
              "port": snowflake_server.port, "protocol": "http", "database": "TRAINING",
              "schema": f"S_{uuid.uuid4().hex[:10].upper()}", "login_timeout": 30}
    conn = snowflake.connector.connect(**kwargs)
    cur = conn.cursor()
    cur.execute("create table tickets (id varchar, subject varchar, body varchar, category varchar, "
                "service varchar, auto_generated boolean)")
    for row in ROWS.itertuples():
        cur.execute("insert into tickets values (%s, %s, %s, %s, %s, %s)",
                    (row.id, row.subject, row.body, row.category, "vpn" if row.id == "T0" else None,
                     row.subject == "Out of office"))
    cur.execute('create table feedback (ticket_id varchar, corrected_category varchar, "AT" timestamp)')
    cur.executemany("insert into feedback values (%s, %s, %s)", [
        ("T1", "Purchase", "2026-01-01 10:00:00"),
        ("T1", "Storage", "2026-01-02 10:00:00"),   # latest wins
        ("T4", "Access", "2026-01-01 09:00:00"),
    ])
    conn.close()
    yield kwargs


QUERY = ("select id, subject, body, category, service from tickets "
         "where body <> '' and category in (%(c1)s, %(c2)s, %(c3)s) and not auto_generated order by id")
PARAMS = {"c1": "Access", "c2": "Hardware", "c3": "Purchase"}


def test_snowflake_source_streams_query_results_with_fetchmany(snowflake_tables):
    source = SnowflakeSource(QUERY, snowflake_tables, PARAMS, chunk_size=2)
    chunks = list(source.batches())
    assert [len(c) for c in chunks] == [2, 2, 1]
    ids = pd.concat(chunks)["ID"].tolist()   # Snowflake upper-cases unquoted identifiers
    assert ids == ["T0", "T1", "T3", "T4", "T6"]


def test_snowflake_rows_prepare_with_case_insensitive_columns_and_corrections(snowflake_tables):
    config = load_config().replace(data={"source": "snowflake", "columns": {
        "text": ["subject", "body"], "label": "category", "id": "id", "triage": ["service"]},
        "feedback": {"query": 'select ticket_id, corrected_category, "AT" from feedback'}})
    corrections = latest_corrections(load_corrections(config.data.feedback, snowflake_tables))
    assert corrections == {"T1": "Storage", "T4": "Access"}
    prepared = prepare(SnowflakeSource(QUERY, snowflake_tables, PARAMS, chunk_size=2).batches(), config,
                       corrections, progress=False)
    frame = prepared.frame.set_index("ticket_id")
    assert frame.loc["T0", "text"] == "vpn down cannot connect to vpn | service: vpn"
    assert frame.loc["T1", "label"] == "Storage" and frame.loc["T4", "label"] == "Access"
    assert prepared.corrections_applied == 2 and prepared.rows_read == 5


def test_snowflake_errors_are_clear():
    with pytest.raises(DataSourceError, match="needs a query"):
        SnowflakeSource("  ", {})
    source = SnowflakeSource("select 1", {"account": "x", "user": "u", "password": "p", "host": "127.0.0.1",
                                          "port": 9, "protocol": "http", "login_timeout": 2})
    with pytest.raises(DataSourceError, match="cannot connect|query failed"):
        list(source.batches())
