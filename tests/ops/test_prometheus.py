"""Every dashboard query and alerting rule, evaluated by a real Prometheus on real scrapes.

Here the scrape target serves every metrics container of the code (worker,
Slack, sink) on one loopback port, each metric fed a little traffic, so every
panel must return series and every rule must evaluate cleanly.
test_prometheus_worker.py scrapes a worker that classified real tickets.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from tests.fixtures.prometheus import PromQLError, free_port, start_prometheus
from tests.ops.dashboard_queries import dashboard_queries, evaluate_all, grafana_to_promql
from stream.prometheus import process_registry
from tests.ops.metric_containers import build_all, containers

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "helm" / "ticket-classifier" / "files" / "alerts.rules.yml"


def feed(metrics: list, wave: int) -> None:
    """Give every metric, whatever its labels, some traffic (two label values each)."""
    for metric in metrics:
        children = [metric.labels(*[f"{name}-{i}" for name in metric._labelnames]) for i in (1, 2)] \
            if metric._labelnames else [metric]
        for i, child in enumerate(children, start=1):
            if isinstance(child, Counter):
                child.inc(wave * i)
            elif isinstance(child, Gauge):
                child.set(wave * i)
            elif isinstance(child, Histogram):
                for value in (0.01 * wave, 0.2 * i, 3.0):
                    child.observe(value)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """A real Prometheus (with the alerting rules) that scraped two waves of traffic on every metric.

    Every metrics container is built on one registry served over loopback HTTP, with the
    process, platform and GC collectors every component's registry carries.
    """
    registry = process_registry()
    metrics = [m for container in containers(registry) for m in container]
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    prometheus = start_prometheus(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{port}"], [RULES])
    try:
        prometheus.wait_for_targets_up()
        feed(metrics, wave=1)
        prometheus.wait_for("tickets_consumed_total >= 1")
        prometheus.wait_for_next_scrape()  # a scrape with the first wave only, so rates over the window are positive
        feed(metrics, wave=2)
        prometheus.wait_for("tickets_consumed_total >= 3")
        yield prometheus
    finally:
        prometheus.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_grafana_variables_are_substituted():
    expr = 'sum(rate(x{namespace=~"$namespace"}[$__rate_interval])) by (${datasource})'
    assert grafana_to_promql(expr, rate_interval="9s") == 'sum(rate(x{namespace=~".*"}[9s])) by (prometheus)'


def test_a_broken_query_is_reported(scraped):
    with pytest.raises(PromQLError, match="parse error"):
        scraped.query("sum(rate(tickets_consumed_total[30s])")


def test_every_panel_returns_series_from_the_code_metrics(scraped):
    results = evaluate_all(scraped, dashboard_queries(), rate_interval="30s")
    empty = [(title, expr) for title, expr, result in results if not result]
    assert not empty, f"panels without series: {empty}"
    assert len(results) == len(dashboard_queries())
    throughput = next(r for title, expr, r in results if "tickets_consumed_total" in expr and title.startswith("Throughput"))
    assert float(throughput[0]["value"][1]) > 0

    # Every exposed metric was scraped (the endpoint really serves the code's containers).
    scraped_names = {s["metric"]["__name__"] for s in scraped.query('{__name__=~"tickets_.+"}')}
    for spec in build_all().values():
        assert set(spec.series_names) & scraped_names, spec.name


def test_alerting_rules_evaluate_without_errors_on_real_series(scraped):
    deadline = time.monotonic() + 15
    rules = scraped.rules()
    while time.monotonic() < deadline and (not rules or any(r["health"] == "unknown" for r in rules)):
        time.sleep(0.5)
        rules = scraped.rules()
    expected = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert len(rules) == len(expected), scraped.log_tail()
    broken = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not broken, broken
