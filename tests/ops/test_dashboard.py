"""The Grafana dashboard is well formed, portable, and covers what the issue asks for."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.ops.metric_containers import build_all, series_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "helm" / "ticket-classifier" / "files" / "dashboard.json"
METRIC_NAME = re.compile(r"\btickets_[a-z0-9_]+\b")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_datasource_is_a_template_variable_everywhere():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}"


def test_panels_have_unique_ids_titles_descriptions_and_fit_the_grid():
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["title"] and panel["description"], panel
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert [t["refId"] for t in panel["targets"]] == [chr(65 + i) for i in range(len(panel["targets"]))]


def test_rates_use_the_rate_interval_and_the_namespace_filter():
    for expr in exprs():
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", expr
        for selector in re.findall(r"tickets_[a-z0-9_]+(\{[^}]*\})?", expr):
            assert selector == '{namespace=~"$namespace"}', expr


def test_the_issue_asks_for_these_panels():
    text = "\n".join(exprs())
    for needle in (
        "rate(tickets_consumed_total",                       # throughput in
        "rate(tickets_classified_total",                     # throughput out
        "sum by (reason) (rate(tickets_dead_lettered_total",  # DLQ by reason
        "rate(tickets_abstained_total",                      # abstention rate
        "sum by (category) (rate(tickets_classified_total",  # predictions by category
        "tickets_batch_size_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(tickets_inference_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(tickets_end_to_end_seconds_bucket",
        "tickets_model_info",
        "tickets_consumer_lag",
        "tickets_sink_failures_total",
        "tickets_slack_errors_total",
    ):
        assert needle in text, needle


def test_every_metric_the_code_exposes_is_on_the_dashboard_and_nothing_else():
    specs = build_all()
    known = series_names(specs)
    used = {name for expr in exprs() for name in METRIC_NAME.findall(expr)}
    assert used <= set(known), f"unknown metrics: {used - set(known)}"
    assert {known[name].name for name in used} == set(specs), "metrics missing from the dashboard"
