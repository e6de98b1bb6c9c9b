"""The model lifecycle end to end on real components: Tansu, the worker and the sink as processes, fakesnow.

champion serving → ``retrain`` makes a challenger → the worker shadows it and the
sink stores both arms → people's labels arrive as feedback events → ``compare``
says the challenger is better → the next ``retrain`` promotes it (and refuses the
candidate it trains on shuffled labels) → the worker swaps, and every ticket is
classified exactly once through it all. Models are lexical-only and tiny.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from stream.devtools.broker import free_port
from stream.devtools.replay import ticket_event
from stream.inference.registry import CHALLENGER, CHAMPION, Registry
from tests.e2e.test_pipeline import Process, _rows, _wait
from tests.fixtures.kafka_io import WorkerProcess, produce, read_topic
from tests.fixtures.lifecycle import with_shuffled_labels, write_config
from tests.fixtures.models import ONE_THREAD, train_into
from tests.fixtures.worker import worker_env
from training.retrain import retrain

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ("Hardware", "Access", "Miscellaneous")
TABLE = "CLASSIFIED_TICKETS"


def _rows_of(shipped: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    return pd.concat([shipped[shipped.Topic_group == c].iloc[start:stop] for c in CATEGORIES])


def _tickets(frame: pd.DataFrame, prefix: str) -> list[tuple[dict, str]]:
    """(TicketEvent, true label) of each row."""
    return [(ticket_event(i, text, prefix), label) for i, (text, label) in
            enumerate(zip(frame.Document, frame.Topic_group))]


def _send(bootstrap: str, topic: str, tickets) -> None:
    asyncio.run(produce(bootstrap, topic, [(t["ticket_id"].encode(), json.dumps(t).encode()) for t, _ in tickets]))


def _feedback(bootstrap: str, topic: str, tickets, served: dict[str, dict]) -> None:
    """A person's label on each ticket (its true category), as the interactivity endpoint would publish it."""
    now = datetime.now(timezone.utc).isoformat()
    events = [{"schema_version": "1", "event_id": uuid.uuid4().hex, "ticket_id": t["ticket_id"],
               "corrected_category": label, "previous_category": served[t["ticket_id"]]["category"],
               "model_version": served[t["ticket_id"]]["model_version"], "user": "U0LABEL",
               "channel": "slack:#it-triage", "source": "slack", "at": now} for t, label in tickets]
    asyncio.run(produce(bootstrap, topic, [(e["ticket_id"].encode(), json.dumps(e).encode()) for e in events]))


def _read(bootstrap: str, topic: str, ids: set[str], timeout_s: float = 90) -> list[dict]:
    parse = lambda r: json.loads(r.value)  # noqa: E731
    return [parse(r) for r in asyncio.run(read_topic(bootstrap, topic, lambda recs: ids <= {e["ticket_id"] for e in recs},
                                                     timeout_s, parse=parse))]


def _compare(env: dict, registry: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "training", "compare", "--json", "--registry", str(registry),
                             "--days", "1"], cwd=REPO, env=os.environ | env | {"PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_champion_challenger_retrain_compare_promote_and_swap(
        kafka_bootstrap, kafka_topics, shipped_tickets, snowflake_env, snowflake_connection, tmp_path):
    registry = tmp_path / "registry"
    data = {"train": _rows_of(shipped_tickets, 0, 300), "golden": _rows_of(shipped_tickets, 300, 360)}
    data["shuffled"] = with_shuffled_labels(data["train"])
    for name, frame in data.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    good = write_config(tmp_path / "good.yaml", tmp_path / "train.csv", tmp_path / "golden.csv")
    bad = write_config(tmp_path / "bad.yaml", tmp_path / "shuffled.csv", tmp_path / "golden.csv")

    # the champion serving today: a small model trained on 20 tickets per category
    weak = _rows_of(shipped_tickets, 500, 520).rename(columns={"Document": "text", "Topic_group": "label"})
    champion = train_into(registry, weak, promote=True, feature_blocks=["lexical"], lightgbm=ONE_THREAD,
                          thresholds={"target_precision": 0.6}).version

    topics = kafka_topics(2)
    env = worker_env(kafka_bootstrap, topics, registry, f"life-{uuid.uuid4().hex[:8]}",
                     TICKETS_CHALLENGER_MODE="shadow", TICKETS_MODEL_POLL_S="0.5")
    sink_env = env | snowflake_env | {"TICKETS_SINK_METRICS_PORT": "0", "TICKETS_SINK_BATCH_INTERVAL_S": "0.5",
                                      "TICKETS_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}"}
    worker = WorkerProcess(env, tmp_path / "worker.log", free_port()).start()
    sink = Process("sink", sink_env, tmp_path / "sink.log")
    try:
        assert worker.wait_ready(120)["model_version"] == champion
        _wait(lambda: _rows(snowflake_connection, f"SELECT COUNT(*) FROM {TABLE}"), 60, "the sink's tables", [sink])

        # retrain: a candidate on 300 tickets per category passes the gate and becomes challenger
        [made] = retrain(good, registry_dir=registry, progress=False, sink_env=snowflake_env)["decisions"]
        challenger = made["candidate"]
        assert made["action"] == "challenger", made["gate"]
        assert Registry(registry).aliases() == {CHAMPION: champion, CHALLENGER: challenger}
        _wait(lambda: worker.readyz()[1].get("challenger_version") == challenger, 30, "the worker's challenger", [sink])

        # shadow traffic: the champion answers on tickets.classified, the challenger on the shadow topic
        wave1 = _tickets(_rows_of(shipped_tickets, 400, 430), "w1")
        ids1 = {t["ticket_id"] for t, _ in wave1}
        _send(kafka_bootstrap, topics.raw, wave1)
        served = {e["ticket_id"]: e for e in _read(kafka_bootstrap, topics.classified, ids1)}
        shadow = _read(kafka_bootstrap, topics.shadow_topic, ids1)
        assert {e["model_version"] for e in served.values()} == {champion}
        assert {e["model_version"] for e in shadow} == {challenger}
        _wait(lambda: _rows(snowflake_connection, f"SELECT MODEL_VERSION, COUNT(*) FROM {TABLE} "
                                                  f"GROUP BY MODEL_VERSION ORDER BY 1") ==
              sorted([(champion, len(ids1)), (challenger, len(ids1))]), 60, "both arms in Snowflake", [sink])

        # people label every ticket; the sink stores the feedback; compare calls the challenger better
        _feedback(kafka_bootstrap, topics.feedback, wave1, served)
        _wait(lambda: _rows(snowflake_connection, "SELECT COUNT(*) FROM TICKET_FEEDBACK") == [(len(ids1),)], 60,
              "the feedback in Snowflake", [sink])
        report = _compare(snowflake_env, registry)
        assert (report["champion"], report["challenger"]) == (champion, challenger)
        assert report["paired"]["n"] == len(ids1) and report["verdict"] == "better", report["reason"]
        assert report["arms"]["challenger"]["accuracy"] > report["arms"]["champion"]["accuracy"]

        # tickets keep coming while the next run promotes the challenger and refuses a shuffled-label candidate
        wave2 = _tickets(_rows_of(shipped_tickets, 430, 450), "w2")
        _send(kafka_bootstrap, topics.raw, wave2)
        run = retrain(bad, registry_dir=registry, progress=False, sink_env=snowflake_env)
        judged, refused = run["decisions"]
        assert judged["action"] == "promoted" and judged["verdict"] == "better"
        assert refused["action"] == "refused" and not refused["gate"]["passed"]
        # the drift recorded with the candidate is the new champion's, on the traffic it scored (in shadow)
        assert refused["drift"]["version"] == challenger and refused["drift"]["n"] >= len(ids1)
        assert set(refused["drift"]["psi"]) >= {"length", "language", "category", "confidence"}
        assert Registry(registry).aliases() == {CHAMPION: challenger}
        actions = [(e["alias"], e["action"]) for e in Registry(registry).history()]
        assert actions[-3:] == [(CHAMPION, "promote"), (CHALLENGER, "unset"), (CHALLENGER, "gate_refused")]

        _wait(lambda: worker.readyz()[1].get("model_version") == challenger, 30, "the swap", [sink])
        wave3 = _tickets(_rows_of(shipped_tickets, 450, 455), "w3")
        _send(kafka_bootstrap, topics.raw, wave3)
        everything = ids1 | {t["ticket_id"] for t, _ in wave2 + wave3}
        published = _read(kafka_bootstrap, topics.classified, everything)
        counts = Counter(e["ticket_id"] for e in published)
        assert set(counts) == everything and set(counts.values()) == {1}, "a ticket lost or classified twice"
        assert {e["model_version"] for e in published if e["ticket_id"].startswith("w3")} == {challenger}
        assert {e["model_version"] for e in published if e["ticket_id"].startswith("w2")} <= {champion, challenger}
    finally:
        sink.stop()
        worker.stop()
