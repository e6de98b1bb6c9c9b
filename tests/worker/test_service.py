"""Worker processes under stress: kill -9 and restart, two workers in one group, no model."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from stream.devtools.replay import load_rows, ticket_event
from tests.fixtures.worker import worker_env
from tests.fixtures.kafka_io import REPO, http, produce, read_topic

pytestmark = pytest.mark.slow

DATA = "data/it-service-tickets/tickets.csv.gz"


def _publish_rows(bootstrap, topic, prefix, n, skip=0):
    rows = load_rows(REPO / DATA, limit=n, skip=skip)
    events = [ticket_event(i, text, prefix) for i, text in zip(rows.indices, rows.texts)]
    asyncio.run(produce(bootstrap, topic, [(e["ticket_id"].encode(), json.dumps(e).encode()) for e in events]))
    return {e["ticket_id"] for e in events}


def _classified(bootstrap, topic, done, timeout_s=120):
    records = asyncio.run(read_topic(bootstrap, topic, done, timeout_s, parse=lambda r: json.loads(r.value)))
    return [json.loads(r.value) for r in records]


def _count_outputs(bootstrap, topic) -> int:
    return len(asyncio.run(read_topic(bootstrap, topic, lambda recs: False, timeout_s=1.0)))


def test_kill_9_mid_stream_then_restart_loses_nothing(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                      trained_registry, e5_embedders_root, start_worker):
    registry, _ = trained_registry
    topics = kafka_topics(partitions=4)
    want = _publish_rows(kafka_bootstrap, topics.raw, "kill", 300)
    env = worker_env(kafka_bootstrap, topics, registry, kafka_group_id("kill"),
                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root), TICKETS_MAX_BATCH="16")
    first = start_worker(env)
    deadline = time.monotonic() + 90
    seen = 0
    while seen < 30 and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = _count_outputs(kafka_bootstrap, topics.classified)
    first.kill()
    assert seen >= 30, "the first worker classified nothing"
    # More tickets arrive while no worker runs: the restarted one must take both over.
    want |= _publish_rows(kafka_bootstrap, topics.raw, "kill", 100, skip=300)

    start_worker(env).wait_ready(90)
    events = _classified(kafka_bootstrap, topics.classified, lambda recs: want <= {r["ticket_id"] for r in recs}, 180)
    got = {e["ticket_id"] for e in events}
    assert want <= got, f"lost {len(want - got)} tickets"
    # Redelivered tickets are re-published with the same event_id, so sinks can deduplicate.
    event_ids = defaultdict(set)
    for event in events:
        event_ids[event["ticket_id"]].add(event["event_id"])
    assert all(len(ids) == 1 for ids in event_ids.values())


def test_two_workers_in_one_group_share_the_partitions(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                       trained_registry, e5_embedders_root, start_worker):
    registry, _ = trained_registry
    topics = kafka_topics(partitions=4)
    env = worker_env(kafka_bootstrap, topics, registry, kafka_group_id("pair"),
                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root))
    workers = [start_worker(env), start_worker(env)]
    deadline = time.monotonic() + 120
    assignments = []
    while time.monotonic() < deadline:
        states = [w.readyz() for w in workers]
        assignments = [set(body.get("assigned_partitions") or []) for _, body in states]
        if all(status == 200 for status, _ in states) and not (assignments[0] & assignments[1]) \
                and assignments[0] | assignments[1] == set(range(4)):
            break
        time.sleep(0.5)
    assert assignments[0] and assignments[1], assignments
    assert not assignments[0] & assignments[1] and assignments[0] | assignments[1] == set(range(4))

    want = _publish_rows(kafka_bootstrap, topics.raw, "pair", 400)
    events = _classified(kafka_bootstrap, topics.classified, lambda recs: want <= {r["ticket_id"] for r in recs})
    assert want <= {e["ticket_id"] for e in events}
    for worker in workers:
        status, body = http("GET", f"{worker.url}/metrics")
        consumed = [line for line in body.decode().splitlines() if line.startswith("tickets_consumed_total ")]
        assert consumed and float(consumed[0].split()[1]) > 0, "a worker did no work"


def test_a_replica_beyond_the_partition_count_is_ready_and_serves_classify(
        kafka_bootstrap, kafka_topics, kafka_group_id, trained_registry, e5_embedders_root, start_worker):
    """Two workers, one partition: both Ready; one consumes, the other only serves the API."""
    registry, _ = trained_registry
    topics = kafka_topics(partitions=1)
    env = worker_env(kafka_bootstrap, topics, registry, kafka_group_id("spare"),
                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root))
    workers = [start_worker(env), start_worker(env)]
    for worker in workers:
        worker.wait_ready(120, consuming=False)
    deadline = time.monotonic() + 60
    states = []
    while time.monotonic() < deadline:  # the group settles: one owner, one spare
        states = [w.readyz() for w in workers]
        if sorted(bool(body.get("consuming")) for _, body in states) == [False, True]:
            break
        time.sleep(0.5)
    assert [status for status, _ in states] == [200, 200], states
    assert sorted(bool(body["consuming"]) for _, body in states) == [False, True], states
    spare = workers[[bool(body["consuming"]) for _, body in states].index(False)]
    status, body = http("POST", f"{spare.url}/classify", json.dumps({"text": "my laptop screen is broken"}).encode())
    assert status == 200 and json.loads(body)["category"]
    metrics = http("GET", f"{spare.url}/metrics")[1].decode()
    assert "tickets_assigned_partitions 0.0" in metrics


def test_worker_without_a_promoted_model_exits_with_the_fix(tmp_path, kafka_bootstrap):
    env = {"TICKETS_REGISTRY_DIR": str(tmp_path / "empty-registry"),
           "TICKETS_KAFKA_BOOTSTRAP": f"kafka://{kafka_bootstrap}", "TICKETS_LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-m", "stream", "worker"], cwd=REPO, capture_output=True, text=True,
                            env={**__import__("os").environ, **env}, timeout=60)
    assert result.returncode == 2
    assert "python -m training train" in result.stderr and "--promote" in result.stderr
