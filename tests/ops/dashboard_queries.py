"""The dashboard's PromQL, made runnable outside Grafana, and evaluated through Prometheus' HTTP API."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "helm" / "ticket-classifier" / "files" / "dashboard.json"


def dashboard_queries(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every query target of every panel."""
    dashboard = json.loads(path.read_text())
    return [(panel["title"], target["expr"])
            for panel in dashboard["panels"] if panel["type"] != "row"
            for target in panel["targets"]]


def grafana_to_promql(expr: str, rate_interval: str = "30s") -> str:
    """Substitute what Grafana would: interval macros and template variables ("All" for queries)."""
    for macro in ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}", "$__range"):
        expr = expr.replace(macro, rate_interval)
    expr = expr.replace("${datasource}", "prometheus").replace("$datasource", "prometheus")
    expr = re.sub(r"\$\{namespace(:\w+)?\}|\$namespace\b", ".*", expr)
    leftover = re.findall(r"\$\{?\w+", expr)
    if leftover:
        raise ValueError(f"unsubstituted Grafana variables {leftover} in {expr}")
    return expr


def evaluate_all(prometheus, queries: list[tuple[str, str]], rate_interval: str = "30s"):
    """``[(title, promql, result)]``; a query Prometheus rejects raises PromQLError naming it."""
    return [(title, promql, prometheus.query(promql))
            for title, expr in queries
            for promql in [grafana_to_promql(expr, rate_interval)]]
