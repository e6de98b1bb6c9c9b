"""The whole loop over the real broker, every part a real process.

raw tickets → worker → tickets.classified → notifier (→ loopback Slack) and
sink (→ fakesnow) → a signed click on the posted message → interactivity →
tickets.feedback → sink → the labels view shows the human's label.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from stream.devtools.broker import free_port
from stream.devtools.process import stop_process
from stream.config import Settings
from stream.inference.references import NEIGHBOURS_META
from stream.devtools.replay import load_rows, replay
from stream.slack.blocks import PICK_ACTION
from stream.slack.signing import sign
from tests.fixtures.slack import TOKEN
from tests.fixtures.worker import worker_env
from tests.fixtures.kafka_io import WorkerProcess

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "it-service-tickets" / "tickets.csv.gz"
TICKETS = 12
SECRET = "e2e-signing-secret"


class Process:
    """``python -m stream <command>`` as a child process with its own log."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path):
        self.command, self.log_path = command, log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "stream", command], cwd=REPO,
                                            env=os.environ | env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.command} exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        stop_process(self.process, 15)


def _wait(predicate, timeout_s: float, what: str, processes) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in processes:
            p.check_alive()
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    tails = "\n\n".join(f"--- {p.command}\n{p.log_tail()}" for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _rows(conn, sql: str) -> list:
    try:
        return conn.cursor().execute(sql).fetchall()
    except Exception:  # tables appear when the sink has started
        return []


def test_raw_ticket_to_slack_and_snowflake_and_back_as_feedback(
        kafka_bootstrap, kafka_topics, trained_registry, e5_embedders_root, fake_slack, slack_env,
        snowflake_env, snowflake_connection, tmp_path):
    registry, version = trained_registry
    topics = kafka_topics(2)
    kafka_env = worker_env(kafka_bootstrap, topics, registry, f"e2e-{uuid.uuid4().hex[:8]}",
                           TICKETS_EMBEDDER_DIR=str(e5_embedders_root))
    port = free_port()
    common = kafka_env | {"TICKETS_SLACK_METRICS_PORT": "0", "TICKETS_SINK_METRICS_PORT": "0"}
    notifier_env = common | slack_env
    sink_env = common | snowflake_env | {"TICKETS_SINK_BATCH_INTERVAL_S": "0.5",
                                         "TICKETS_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}"}
    interactivity_env = common | {"TICKETS_SLACK_SIGNING_SECRET": SECRET,
                                  "TICKETS_SLACK_INTERACTIVITY_HOST": "127.0.0.1",
                                  "TICKETS_SLACK_INTERACTIVITY_PORT": str(port)}

    worker = WorkerProcess(kafka_env, tmp_path / "worker.log", free_port()).start()
    parts = [Process("notifier", notifier_env, tmp_path / "notifier.log"),
             Process("sink", sink_env, tmp_path / "sink.log"),
             Process("interactivity", interactivity_env, tmp_path / "interactivity.log")]
    try:
        worker.wait_ready(120)
        settings = Settings.from_env(kafka_env)
        rows = load_rows(DATA, limit=TICKETS)
        stats = asyncio.run(replay(settings, rows, rate=0, id_prefix="e2e", progress=False))
        assert stats.failed == 0

        posted = _wait(lambda: len(fake_slack.posted()) >= TICKETS and fake_slack.posted(), 90,
                       "every ticket in Slack", parts)
        table = "CLASSIFIED_TICKETS"
        _wait(lambda: _rows(snowflake_connection, f"SELECT COUNT(*) FROM {table}") == [(TICKETS,)], 60,
              "every ticket in Snowflake", parts)
        assert len(posted) == TICKETS  # one message per ticket, no more
        stored = dict(_rows(snowflake_connection, f"SELECT TICKET_ID, CATEGORY FROM {table}"))
        assert {r[0] for r in _rows(snowflake_connection, f"SELECT DISTINCT MODEL_VERSION FROM {table}")} == {version}
        for message in posted:
            ticket_id = message["metadata"]["event_payload"]["ticket_id"]
            assert stored[ticket_id] in json.dumps(message["blocks"])  # Slack and Snowflake agree
        _assert_evidence_reached_slack_and_snowflake(posted, snowflake_connection, table, registry / version)

        # a person picks another category on the first message
        message = posted[0]
        actions = next(b for b in message["blocks"] if b["type"] == "actions")
        context = json.loads(actions["block_id"])
        select = next(e for e in actions["elements"] if e["action_id"] == PICK_ACTION)
        other = next(o["value"] for o in select["options"] if o["value"] != context["c"])
        payload = {"type": "block_actions", "user": {"id": "U1", "username": "carol"},
                   "channel": {"id": message["channel"], "name": "it-somewhere"},
                   "container": {"type": "message", "message_ts": message["ts"]},
                   "actions": [{"action_id": PICK_ACTION, "block_id": actions["block_id"],
                                "action_ts": f"{time.time():.6f}", "selected_option": {"value": other}}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        ts = str(int(time.time()))
        request = Request(f"http://127.0.0.1:{port}/slack/interactivity", data=body, method="POST", headers={
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(SECRET, ts, body),
            "Content-Type": "application/x-www-form-urlencoded"})
        _wait(lambda: _post_ok(request), 30, "the interactivity endpoint", parts)

        label = _wait(lambda: _rows(snowflake_connection,
                                    f"SELECT LABEL, LABEL_SOURCE, PREDICTED_CATEGORY FROM TICKET_LABELS "
                                    f"WHERE TICKET_ID = '{context['t']}' AND LABEL_SOURCE = 'human'"), 60,
                      "the correction in the labels view", parts)
        assert label == [(other, "human", context["c"])]
    finally:
        for part in parts:
            part.stop()
        worker.stop()
    assert TOKEN not in "".join(p.log_path.read_text(errors="replace") for p in parts)


def _assert_evidence_reached_slack_and_snowflake(posted, conn, table: str, version_dir: Path) -> None:
    """Each message links the ticket's 3 nearest training tickets, and the sink stored the same ids; a ticket
    the lexical shortcut answered (no embedding) shows only its words, and the sink stored no ids."""
    references = {json.loads(line)["id"]: json.loads(line) for line in
                  gzip.open(version_dir / NEIGHBOURS_META, "rt", encoding="utf-8").read().splitlines()[1:]}
    stored = {t: (json.loads(ids), json.loads(labels)) for t, ids, labels in
              _rows(conn, f"SELECT TICKET_ID, NEIGHBOUR_IDS, NEIGHBOUR_LABELS FROM {table}")}
    for message in posted:
        ticket_id = message["metadata"]["event_payload"]["ticket_id"]
        [context] = [b for b in message["blocks"] if b["type"] == "context"]
        elements = [e["text"] for e in context["elements"]]
        ids, labels = stored[ticket_id]
        if not ids:
            assert len(elements) == 1 and not labels
        else:
            similar = elements[0]
            shown = re.findall(r"\|#([^>]+)>", similar)
            assert len(shown) == 3 and shown == ids, (similar, ids)
            assert labels == [references[i]["label"] for i in ids]  # the labels the model was trained with
        assert elements[-1].startswith("*Words:* `")


def _post_ok(request: Request) -> bool:
    try:
        with urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
