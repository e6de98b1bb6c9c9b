"""The alerting rules are valid, unit-tested by promtool, and only use metrics the code exposes."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.metric_containers import build_all, series_names

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "helm" / "ticket-classifier" / "files" / "alerts.rules.yml"
MONITORING = ROOT / "docs" / "monitoring"
RULE_TESTS = sorted(MONITORING.glob("alerts*.test.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC_NAME = re.compile(r"\btickets_[a-z0-9_]+\b")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make tools` (Debian package 'prometheus')")
    return path


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules():
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    # Run from the tests' folder: rule_files paths are relative to it.
    assert RULE_TESTS
    result = subprocess.run([promtool(), "test", "rules", *(p.name for p in RULE_TESTS)], cwd=MONITORING,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    tests = [case for path in RULE_TESTS for case in yaml.safe_load(path.read_text())["tests"]]
    fires, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fires == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"


def test_the_issue_asks_for_these_alerts():
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert "tickets_consumer_lag" in exprs["TicketsConsumerStalled"]
    assert "tickets_consumed_total" in exprs["TicketsConsumerStalled"]
    assert "tickets_dead_lettered_total" in exprs["TicketsDeadLetterRatioHigh"]
    assert "histogram_quantile(0.99" in exprs["TicketsEndToEndLatencyHigh"]
    assert exprs["TicketsModelNotReady"].strip() == "tickets_model_ready == 0"
    assert "[1h]" in exprs["TicketsAbstentionRateDrift"] and "[1d]" in exprs["TicketsAbstentionRateDrift"]
    assert "[1h]" in exprs["TicketsCategoryMixDrift"] and "[1d]" in exprs["TicketsCategoryMixDrift"]
    assert "tickets_slack_errors_total" in exprs["TicketsSlackErrors"]
    assert "tickets_sink_failures_total" in exprs["TicketsSinkFailures"]


def test_alerts_have_severity_summary_description_and_a_runbook():
    runbook = OPERATIONS.read_text()
    anchors = {m.group(1).lower() for m in re.finditer(r"^#+ +`?(\w+)`?\s*$", runbook, re.MULTILINE)}
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["alert"].lower() in anchors, f"docs/operations.md has no section '{rule['alert']}'"


def test_rules_only_use_metrics_the_code_exposes():
    known = series_names(build_all())
    for rule in alerts():
        for name in METRIC_NAME.findall(rule["expr"]):
            assert name in known, f"{rule['alert']}: {name} is not exposed by any metrics container"
