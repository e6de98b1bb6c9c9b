"""``python -m training train`` reading its tickets and human corrections from Snowflake (fakesnow server)."""
from __future__ import annotations

import json
import uuid

import pandas as pd
import yaml

from stream.inference.registry import Registry
from training.cli import main

CATEGORIES = ["Access", "Hardware", "Purchase"]
PER_CATEGORY = 40


def _load_tickets(kwargs: dict, tickets: pd.DataFrame) -> None:
    """A tickets table (plus auto-generated noise the query must skip) and a feedback table."""
    import snowflake.connector

    conn = snowflake.connector.connect(**kwargs)
    cur = conn.cursor()
    cur.execute("create table tickets (ticket_id varchar, body varchar, category varchar, is_auto boolean)")
    rows = [(r.ticket_id, r.Document, r.Topic_group, False) for r in tickets.itertuples()]
    rows += [(f"AUTO{i}", "automatic reply: i am out of the office", "Access", True) for i in range(5)]
    cur.executemany("insert into tickets values (%s, %s, %s, %s)", rows)
    cur.execute('create table feedback (ticket_id varchar, corrected_category varchar, "AT" timestamp)')
    cur.executemany("insert into feedback values (%s, %s, %s)", [
        (tickets.ticket_id.iloc[0], "Purchase", "2026-11-01 10:00:00"),
        (tickets.ticket_id.iloc[1], "Hardware", "2026-11-01 10:00:00"),
    ])
    conn.close()


def test_train_command_reads_snowflake_with_corrections(tmp_path, snowflake_server, shipped_tickets, capsys):
    tickets = pd.concat([shipped_tickets[shipped_tickets.Topic_group == c].head(PER_CATEGORY) for c in CATEGORIES])
    tickets = tickets.assign(ticket_id=[f"SF{i:04d}" for i in range(len(tickets))])
    connection = {"account": "fakesnow", "user": "trainer", "password": "s3cret", "host": snowflake_server.host,
                  "port": snowflake_server.port, "protocol": "http", "database": "TRAINING",
                  "schema": f"T_{uuid.uuid4().hex[:10].upper()}", "login_timeout": 30}
    _load_tickets(connection, tickets)
    config = {
        "feature_blocks": ["lexical"],
        "lightgbm": {"num_threads": 1, "min_data_in_leaf": 5},
        "data": {
            "source": "snowflake",
            "labels": CATEGORIES,
            "columns": {"text": ["body"], "label": "category", "id": "ticket_id"},
            "snowflake": {"connection": connection, "chunk_size": 25,
                          "query": "select ticket_id, body, category from tickets "
                                   "where not is_auto and category in (%(a)s, %(b)s, %(c)s)",
                          "params": dict(zip("abc", CATEGORIES))},
            "feedback": {"query": 'select ticket_id, corrected_category, "AT" from feedback'},
        },
    }
    path = tmp_path / "snowflake.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "reg"), "--promote", "--no-progress"]) == 0
    version = Registry(tmp_path / "reg").promoted_version()
    assert version and f"version {version}" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "reg" / version / "manifest.json").read_text())
    data = manifest["data"]
    assert data["source"] == "snowflake" and data["rows_read"] == len(tickets)  # the auto-replies never left Snowflake
    assert data["corrections_applied"] == 2
    assert sum(data["label_counts"].values()) == data["rows_used"] and manifest["labels"] == CATEGORIES
    assert manifest["params"]["data"]["snowflake"]["connection"]["password"] == "***"
    assert "s3cret" not in (tmp_path / "reg" / version / "manifest.json").read_text()
