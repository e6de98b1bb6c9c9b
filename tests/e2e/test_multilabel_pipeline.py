"""A multi-label version end to end, next to a single-label one, every part a real process.

The tiny multi-label version trained from the fixture file is evaluated (``python -m training
evaluate``), then a worker serves the single-label version, the multi-label one is promoted and
hot-swapped in, and tickets of both flow raw → worker → tickets.classified → notifier (→ the Slack
double: one message in each label's channel) and sink (→ fakesnow: the label set as arrays). The
same tickets sent again post nothing more; a pick in a message's *Add a label…* menu comes back
through interactivity as a label edit in Snowflake.
"""
from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from stream.config import Settings
from stream.devtools.broker import free_port
from stream.devtools.replay import Rows, load_rows, replay
from stream.downstream.settings import SlackSettings
from stream.inference.registry import Registry
from stream.slack.label_blocks import ADD_LABEL_ACTION
from stream.slack.signing import sign
from tests.e2e.test_pipeline import DATA, REPO, Process, _post_ok, _rows, _wait
from tests.fixtures.fake_slack import FakeSlack
from tests.fixtures.kafka_io import WorkerProcess
from tests.fixtures.models import MULTILABEL_DATA
from tests.fixtures.slack import CHANNELS
from tests.fixtures.worker import worker_env

pytestmark = pytest.mark.slow

SECRET = "e2e-multilabel-secret"
SINGLE = 4
CHANNEL_MAP = {"Access": "#it-access", "Hardware": "#it-hardware", "Printer": "#it-hardware"}
TABLE = "CLASSIFIED_TICKETS"


def _multi_label_rows(limit: int = 10) -> Rows:
    """Fixture tickets whose true labels span two channels or more (Email and Network: the default)."""
    slack = SlackSettings.from_env({"TICKETS_SLACK_CHANNEL_MAP": json.dumps(CHANNEL_MAP)})
    with open(MULTILABEL_DATA, newline="", encoding="utf-8") as fh:
        rows = [(i, row) for i, row in enumerate(csv.DictReader(fh))
                if len(slack.channels_for("", False, row["tags"].split("|"))) >= 2][-limit:]
    return Rows(indices=[i for i, _ in rows], texts=[r["text"] for _, r in rows], labels=[r["tags"] for _, r in rows])


def _metric(url: str, name: str) -> float:
    with urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def _evaluate(version_dir, embedders_root) -> dict:
    """``python -m training evaluate --json`` on the fixture file, as a person would run it."""
    done = subprocess.run([sys.executable, "-m", "training", "evaluate", "--model", str(version_dir), "--data",
                           str(MULTILABEL_DATA), "--text-col", "text", "--label-col", "tags", "--json",
                           "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"TICKETS_EMBEDDER_DIR": str(embedders_root)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _click(message: dict, port: int) -> tuple[Request, str]:
    """A signed *Add a label…* pick on ``message`` (its menu's first option), and the label picked."""
    menu = next(e for b in message["blocks"] for e in b.get("elements") or () if e.get("action_id") == ADD_LABEL_ACTION)
    label = menu["options"][0]["value"]
    body = urlencode({"payload": json.dumps(FakeSlack.block_actions(message, ADD_LABEL_ACTION, label))}).encode()
    ts = str(int(time.time()))
    return Request(f"http://127.0.0.1:{port}/slack/interactivity", data=body, method="POST", headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(SECRET, ts, body),
        "Content-Type": "application/x-www-form-urlencoded"}), label


def test_a_multi_label_version_serves_next_to_a_single_label_one_to_slack_and_snowflake(
        kafka_bootstrap, kafka_topics, trained_registry, multilabel_registry, e5_embedders_root, fake_slack,
        slack_env, snowflake_env, snowflake_connection, tmp_path):
    single_registry, single = trained_registry
    multi_registry, multi = multilabel_registry
    evaluated = _evaluate(multi_registry / multi, e5_embedders_root)
    assert evaluated["model_version"] == multi and 0 < evaluated["micro_f1"] <= 1 and "hamming_loss" in evaluated

    registry = tmp_path / "registry"  # the stream's registry: both versions, the single-label one promoted
    for source, version in ((single_registry, single), (multi_registry, multi)):
        shutil.copytree(source / version, registry / version)
    Registry(registry).promote(single)

    topics = kafka_topics(2)
    kafka_env = worker_env(kafka_bootstrap, topics, registry, f"e2e-ml-{uuid.uuid4().hex[:8]}",
                           TICKETS_EMBEDDER_DIR=str(e5_embedders_root), TICKETS_MODEL_POLL_S="0.5")
    port, notifier_port = free_port(), free_port()
    common = kafka_env | {"TICKETS_SINK_METRICS_PORT": "0"}
    notifier_env = common | slack_env | {"TICKETS_SLACK_CHANNEL_MAP": json.dumps(CHANNEL_MAP),
                                         "TICKETS_SLACK_METRICS_PORT": str(notifier_port)}
    sink_env = common | snowflake_env | {"TICKETS_SINK_BATCH_INTERVAL_S": "0.5",
                                         "TICKETS_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}"}
    interactivity_env = common | {"TICKETS_SLACK_SIGNING_SECRET": SECRET, "TICKETS_SLACK_METRICS_PORT": "0",
                                  "TICKETS_SLACK_INTERACTIVITY_HOST": "127.0.0.1",
                                  "TICKETS_SLACK_INTERACTIVITY_PORT": str(port)}
    worker = WorkerProcess(kafka_env, tmp_path / "worker.log", free_port()).start()
    parts = [Process("notifier", notifier_env, tmp_path / "notifier.log"),
             Process("sink", sink_env, tmp_path / "sink.log"),
             Process("interactivity", interactivity_env, tmp_path / "interactivity.log")]
    settings = Settings.from_env(kafka_env)
    multi_rows = _multi_label_rows()
    total = SINGLE + len(multi_rows)

    def stored() -> dict[str, tuple]:
        rows = _rows(snowflake_connection, f"SELECT TICKET_ID, MODEL_VERSION, CATEGORY, NEEDS_HUMAN, LABELS, "
                                           f"LABEL_PROBABILITIES FROM {TABLE}")
        return {r[0]: (r[1], r[2], r[3], None if r[4] is None else json.loads(r[4]),
                       None if r[5] is None else json.loads(r[5])) for r in rows}

    try:
        worker.wait_ready(120)
        stats = asyncio.run(replay(settings, load_rows(DATA, limit=SINGLE), rate=0, id_prefix="single",
                                   progress=False))
        assert stats.failed == 0
        _wait(lambda: len(fake_slack.posted()) >= SINGLE, 90, "the single-label tickets in Slack", parts)

        Registry(registry).promote(multi)  # the worker swaps between batches
        _wait(lambda: worker.readyz()[1].get("model_version") == multi, 120, "the multi-label version", parts)
        assert asyncio.run(replay(settings, multi_rows, rate=0, id_prefix="multi", progress=False)).failed == 0

        rows = _wait(lambda: len(stored()) == total and stored(), 90, "every ticket in Snowflake", parts)
        slack = SlackSettings.from_env({"TICKETS_SLACK_CHANNEL_MAP": json.dumps(CHANNEL_MAP),
                                        "TICKETS_SLACK_DEFAULT_CHANNEL": slack_env["TICKETS_SLACK_DEFAULT_CHANNEL"],
                                        "TICKETS_SLACK_TRIAGE_CHANNEL": slack_env["TICKETS_SLACK_TRIAGE_CHANNEL"]})
        expected = {ticket: [CHANNELS[c.lstrip("#")] for c in slack.channels_for(category, needs_human, labels or ())]
                    for ticket, (_, category, needs_human, labels, _) in rows.items()}
        messages = sum(len(channels) for channels in expected.values())
        posted = _wait(lambda: len(fake_slack.posted()) >= messages and fake_slack.posted(), 60,
                       "every message in Slack", parts)

        # Snowflake: the single-label rows carry no label set, the multi-label rows theirs
        for ticket, (version, category, needs_human, labels, probabilities) in rows.items():
            if ticket.startswith("single"):
                assert (version, labels, probabilities) == (single, None, None), ticket
            else:
                assert version == multi and labels is not None and len(probabilities) == len(labels), ticket
                assert probabilities == sorted(probabilities, reverse=True)
                assert needs_human == (labels == []) and (not labels or category == labels[0]), ticket
        assert any(len(labels or ()) >= 2 for _, _, _, labels, _ in rows.values()), "no ticket got two labels"

        # Slack: each ticket in each of its channels exactly once, the label set shown as stored
        where: dict[str, list[str]] = {}
        for message in posted:
            ticket = message["metadata"]["event_payload"]["ticket_id"]
            where.setdefault(ticket, []).append(message["channel"])
            labels = rows[ticket][3]
            if labels:
                shown = next(f["text"] for b in message["blocks"] for f in b.get("fields") or ()
                             if f["text"].startswith("*Labels*"))
                assert [part.rsplit(" (", 1)[0] for part in shown.split("\n", 1)[1].split(" · ")] == labels
        assert where == expected
        assert any(len(channels) >= 2 for channels in where.values()), "no ticket went to two channels"
        predicted = sum(len(labels or ()) for _, _, _, labels, _ in rows.values())
        assert _metric(worker.url, "tickets_labels_predicted_total") == predicted

        # the same tickets again (a producer retry): the same events, nothing posted twice
        assert asyncio.run(replay(settings, multi_rows, rate=0, id_prefix="multi", progress=False)).failed == 0
        again = messages - SINGLE
        _wait(lambda: _metric(f"http://127.0.0.1:{notifier_port}", 'tickets_slack_messages_total{outcome="duplicate"}')
              >= again, 60, "the redelivered tickets handled", parts)
        assert len(fake_slack.posted()) == messages

        # a person adds a label on a multi-label message: a label edit reaches Snowflake
        message = next(m for m in posted if m["metadata"]["event_payload"]["ticket_id"].startswith("multi"))
        ticket = message["metadata"]["event_payload"]["ticket_id"]
        request, label = _click(message, port)
        assert label not in (rows[ticket][3] or [])
        _wait(lambda: _post_ok(request), 30, "the interactivity endpoint", parts)
        edit = _wait(lambda: _rows(snowflake_connection,
                                   f"SELECT CORRECTED_CATEGORY, PREVIOUS_CATEGORY, LABELS_ADDED, MODEL_VERSION "
                                   f"FROM TICKET_FEEDBACK WHERE TICKET_ID = '{ticket}'"), 60,
                     "the label edit in Snowflake", parts)
        assert [(c, p, json.loads(a), v) for c, p, a, v in edit] == [(rows[ticket][1], rows[ticket][1], [label], multi)]
    finally:
        for part in parts:
            part.stop()
        worker.stop()
