"""``python -m training compare`` on what the sink stored in the fakesnow server, with seeded verdicts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from schemas.models import ClassifiedEvent, FeedbackEvent
from stream.sink.snowflake import SnowflakeTables, classified_row, feedback_row
from tests.fixtures.downstream import classified_event, feedback_event
from training.compare import BETTER, UNDECIDED, WORSE, CompareSettings, compare_arms

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ["Access", "Hardware", "Storage"]
N = 90
START = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
LOADED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
# Which tickets each seeded version gets right (the label is CATEGORIES[i % 3]).
RIGHT = {
    "V-OLD": lambda i: i % 2 == 0,            # 50%
    "V-GOOD": lambda i: i % 10 != 0,          # 90%: right on nearly every ticket OLD gets wrong
    "V-TWIN": lambda i: (i % 2 == 0) != (i in (4, 7)),  # OLD, differing on two tickets only
}


def _label(i: int) -> str:
    return CATEGORIES[i % 3]


def _prediction(i: int, version: str) -> dict:
    label = _label(i)
    wrong = CATEGORIES[(i + 1) % 3]
    category = label if RIGHT[version](i) else wrong
    second = wrong if category == label else label
    third = next(c for c in CATEGORIES if c not in (category, second))
    at = (START + timedelta(minutes=i)).isoformat()
    return classified_event(f"T-{i:03d}", model_version=version, category=category, confidence=0.8,
                            needs_human=i % 9 == 0, created_at=at, processed_at=at,
                            top_k=[{"category": c, "probability": p} for c, p in
                                   ((category, 0.8), (second, 0.15), (third, 0.05))])


@pytest.fixture
def seeded(snowflake_connection, snowflake_settings):
    """Three versions' answers to N tickets and a person's label on every ticket (some confirm, some correct)."""
    tables = SnowflakeTables(snowflake_connection, snowflake_settings.table_classified,
                             snowflake_settings.table_feedback)
    tables.ensure()
    rows = [classified_row(ClassifiedEvent.model_validate(_prediction(i, v)), 0, n, LOADED)
            for n, (i, v) in enumerate((i, v) for v in RIGHT for i in range(N))]
    tables.merge(tables.classified, rows)
    feedback = []
    for i in range(N):
        served = _prediction(i, "V-OLD")["category"]
        at = (START + timedelta(hours=2, minutes=i)).isoformat()
        feedback.append(feedback_row(FeedbackEvent.model_validate(feedback_event(
            f"T-{i:03d}", at=at, corrected=_label(i), previous_category=served, model_version="V-OLD")), 0, i, LOADED))
    tables.merge(tables.feedback, feedback)


def _compare(env: dict, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "training", "compare", "--json", *args], cwd=REPO,
                            env=os.environ | env | {"PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


WINDOW = ("--since", "2026-11-20T00:00:00Z", "--until", "2026-11-21T00:00:00Z")


@pytest.mark.parametrize("champion, challenger, verdict", [
    ("V-OLD", "V-GOOD", BETTER),
    ("V-GOOD", "V-OLD", WORSE),
    ("V-OLD", "V-TWIN", UNDECIDED),
])
def test_compare_gives_the_seeded_verdict(seeded, snowflake_env, tmp_path, champion, challenger, verdict):
    report = _compare(snowflake_env, "--registry", str(tmp_path), "--champion", champion,
                      "--challenger", challenger, *WINDOW)
    assert report["verdict"] == verdict, report["reason"]
    arms = report["arms"]
    expected = {name: sum(RIGHT[v](i) for i in range(N)) / N for name, v in
                (("champion", champion), ("challenger", challenger))}
    for name in arms:
        assert arms[name]["labelled"] == N and arms[name]["predicted"] == N
        assert arms[name]["accuracy"] == pytest.approx(expected[name])
        low, high = arms[name]["accuracy_ci"]
        assert low < arms[name]["accuracy"] < high
        assert arms[name]["abstention_rate"] == pytest.approx(sum(i % 9 == 0 for i in range(N)) / N)
    agree = sum(RIGHT[champion](i) == RIGHT[challenger](i) for i in range(N)) / N
    assert report["agreement"] == {"tickets": N, "rate": pytest.approx(agree)}
    assert report["paired"]["n"] == N
    assert {row["category"] for row in report["per_class"]} == set(CATEGORIES)
    # every feedback names the category V-OLD served: its right answers were confirmed, the others corrected
    assert report["labels"]["confirmations"] == sum(RIGHT["V-OLD"](i) for i in range(N))


def test_a_short_window_is_not_enough_evidence(seeded, snowflake_env, tmp_path):
    report = _compare(snowflake_env, "--registry", str(tmp_path), "--champion", "V-OLD", "--challenger", "V-GOOD",
                      "--since", "2026-11-20T08:00:00Z", "--until", "2026-11-20T08:20:00Z")
    assert report["arms"]["champion"]["predicted"] == 20
    assert report["verdict"] == UNDECIDED and "need 30" in report["reason"]


def test_compare_reads_the_aliases_and_prints_a_table(seeded, snowflake_env, tmp_path):
    from stream.inference.registry import ALIAS_FILES, CHALLENGER, PROMOTED

    (tmp_path / PROMOTED).write_text("V-OLD\n")  # pointer files written directly: the versions are only in Snowflake
    (tmp_path / ALIAS_FILES[CHALLENGER]).write_text("V-GOOD\n")
    result = subprocess.run([sys.executable, "-m", "training", "compare", "--registry", str(tmp_path), *WINDOW],
                            cwd=REPO, env=os.environ | snowflake_env | {"PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "champion V-OLD  vs  challenger V-GOOD" in result.stdout
    assert "verdict: challenger better" in result.stdout


def test_split_mode_compares_different_tickets():
    """Arms that answered different tickets (split mode) are compared without pairing."""
    rows, labels = [], {}
    for i in range(200):
        version = "A" if i % 2 else "B"
        right = (i % 4 != 1) if version == "A" else True  # A 50%, B 100%
        label = _label(i)
        rows.append({"ticket_id": str(i), "model_version": version, "category": label if right else "x",
                     "top_k": [label if right else "x"], "needs_human": False})
        labels[str(i)] = label
    report = compare_arms(pd.DataFrame(rows), labels, "A", "B", CompareSettings())
    assert report["paired"] is None and report["agreement"]["tickets"] == 0
    assert report["unpaired"]["delta"] == pytest.approx(0.5) and report["verdict"] == BETTER
    report = compare_arms(pd.DataFrame(rows), labels, "B", "A", CompareSettings())
    assert report["verdict"] == WORSE
