"""A real Prometheus scrapes a real worker classifying real tickets; the dashboard's queries answer.

The worker is ``python -m stream worker`` on the session's Tansu broker with a
trained e5 model; it classifies tickets from the shipped dataset (plus a few
malformed events for the dead-letter panels) in two waves, so rates over the
window are positive. Every dashboard query must parse; those on the worker's
metrics must return series; the counters must agree with what was sent.
"""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from stream.config import Settings
from stream.devtools.replay import load_rows, replay
from tests.fixtures.prometheus import free_port
from tests.ops.dashboard_queries import dashboard_queries, evaluate_all
from tests.ops.metric_containers import build_all
from tests.fixtures.kafka_io import WorkerProcess, produce

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"
RULES = ROOT / "helm" / "ticket-classifier" / "files" / "alerts.rules.yml"
WAVE = 40
MALFORMED = [b'{"ticket_id": "x", "source": ', b"[1, 2, 3]"]


def worker_metrics() -> set[str]:
    return {name for name, spec in build_all().items() if spec.module == "stream.worker.metrics"}


def uses_only(expr: str, metrics: set[str]) -> bool:
    specs = build_all()
    names = {series: spec.name for spec in specs.values() for series in spec.series_names}
    used = {names[token] for token in names if token in expr}
    return bool(used) and used <= metrics


@pytest.fixture
def worker(kafka_bootstrap, kafka_topics, kafka_group_id, trained_registry, e5_embedders_root, tmp_path):
    registry, version = trained_registry
    topics = kafka_topics(partitions=2)
    env = {
        "TICKETS_KAFKA_BOOTSTRAP": f"kafka://{kafka_bootstrap}",
        "TICKETS_APP_ID": kafka_group_id("ops-worker"),
        "TICKETS_REGISTRY_DIR": str(registry),
        "TICKETS_EMBEDDER_DIR": str(e5_embedders_root),
        "TICKETS_LOG_FORMAT": "json",
        "TICKETS_KAFKA_SESSION_TIMEOUT_S": "3",
        "TICKETS_KAFKA_HEARTBEAT_S": "0.5",
        "TICKETS_EMBED_MAX_TOKENS": "128",
        "TICKETS_MAX_WAIT_S": "0.1",
        **topics.env(),
    }
    process = WorkerProcess(env, tmp_path / "worker.log", free_port()).start()
    try:
        process.wait_ready(120)
        yield process, topics, version
    finally:
        process.stop()


def send_wave(bootstrap: str, topics, offset: int, prefix: str) -> None:
    settings = Settings.from_env({"TICKETS_KAFKA_BOOTSTRAP": bootstrap, **topics.env()})
    rows = load_rows(DATA, text_col="Document", skip=offset, limit=WAVE)
    stats = asyncio.run(replay(settings, rows, rate=0, id_prefix=f"{prefix}-{offset}", progress=False))
    assert stats.sent == WAVE and stats.failed == 0
    asyncio.run(produce(bootstrap, topics.raw, [(f"{prefix}-bad-{offset}-{i}".encode(), payload)
                                               for i, payload in enumerate(MALFORMED)]))


def test_dashboard_on_a_real_worker(worker, kafka_bootstrap, prometheus_server):
    process, topics, version = worker
    prometheus = prometheus_server([f"127.0.0.1:{process.port}"], rule_files=[RULES])
    prometheus.wait_for_targets_up()
    prefix = f"ops{uuid.uuid4().hex[:6]}"

    send_wave(kafka_bootstrap, topics, 0, prefix)
    prometheus.wait_for(f"sum(tickets_classified_total) >= {WAVE}", timeout=90)
    prometheus.wait_for_next_scrape()  # one scrape between the waves
    send_wave(kafka_bootstrap, topics, WAVE, prefix)
    total_valid, total_bad = 2 * WAVE, 2 * len(MALFORMED)
    prometheus.wait_for(f"sum(tickets_classified_total) >= {total_valid} "
                        f"and sum(tickets_dead_lettered_total) >= {total_bad}", timeout=90)

    # The counters agree with what was sent: nothing counted twice, nothing lost.
    def value(expr: str) -> float:
        return float(prometheus.query(expr)[0]["value"][1])

    assert value("sum(tickets_classified_total)") == total_valid
    assert value("sum(tickets_dead_lettered_total)") == total_bad
    assert value("sum(tickets_consumed_total)") == total_valid + total_bad
    assert value("sum(tickets_batch_size_sum)") == total_valid
    assert value("tickets_model_ready") == 1
    info = prometheus.query("tickets_model_info")
    assert [s["metric"]["version"] for s in info] == [version]

    results = evaluate_all(prometheus, dashboard_queries(), rate_interval="30s")  # raises on any PromQL error
    core = worker_metrics()
    if not prometheus.query("tickets_abstained_total"):
        core.discard("tickets_abstained_total")  # the model abstained on none of these tickets
    assert not prometheus.query("tickets_labels_predicted_total")  # a single-label version predicts no label set
    core.discard("tickets_labels_predicted_total")  # (the Multi-label panels answer in test_prometheus.py)
    empty = [(title, expr) for title, expr, result in results if uses_only(expr, core) and not result]
    assert not empty, f"worker panels without series: {empty}"
    covered = {spec for spec in core if any(spec.removesuffix("_total") in expr for _, expr, r in results if r)}
    assert covered == core, f"worker metrics with no panel answering: {core - covered}"
    throughput = next(r for title, expr, r in results if title == "Throughput in / out" and "consumed" in expr)
    assert float(throughput[0]["value"][1]) > 0

    rules = prometheus.rules()
    assert rules and not [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
