"""The promotion gate on hand-built answers: each rule passes a good candidate and refuses a bad one."""
from __future__ import annotations

import numpy as np
import pytest

from training.gate import GateSettings, evaluate_gate

LABELS = ["Access", "Hardware", "Storage"]
N = 300
Y = [LABELS[i % 3] for i in range(N)]
LOADS = (True, "")


def _answers(right) -> list[str]:
    """Right where ``right(i)``, else the next category."""
    return [y if right(i) else LABELS[(LABELS.index(y) + 1) % 3] for i, y in enumerate(Y)]


CHAMPION = _answers(lambda i: i % 5 != 0)            # 80 %
NOBODY_ABSTAINS = [False] * N


def test_a_better_candidate_passes_every_check():
    decision = evaluate_gate(Y, _answers(lambda i: i % 10 != 0), NOBODY_ABSTAINS, 0.8, LOADS, CHAMPION)
    assert decision.passed, decision.summary()
    assert [c.name for c in decision.checks] == ["loads", "overall", "per_class", "thresholds"]
    overall = decision.checks[1].numbers
    assert overall["candidate_accuracy"] == pytest.approx(0.9) and overall["champion_accuracy"] == pytest.approx(0.8)


def test_an_equal_candidate_within_noise_passes():
    # wrong on different tickets, as often: a coin flip, not a regression
    decision = evaluate_gate(Y, _answers(lambda i: i % 5 != 1), NOBODY_ABSTAINS, 0.75, LOADS, CHAMPION)
    assert decision.passed, decision.summary()
    assert decision.checks[1].numbers["p_value"] > 0.05


def test_a_worse_candidate_is_refused_overall():
    decision = evaluate_gate(Y, _answers(lambda i: i % 2 == 0), NOBODY_ABSTAINS, 0.4, LOADS, CHAMPION)
    assert not decision.passed
    failed = {c.name for c in decision.checks if not c.passed}
    assert "overall" in failed
    assert decision.summary().startswith("refused: ") and "worse beyond noise" in decision.summary()


def test_one_regressing_category_is_refused_even_when_overall_is_fine():
    # Storage (every third ticket) drops to 50 %, the others become perfect: overall it looks better
    candidate = _answers(lambda i: Y[i] != "Storage" or i % 2 == 0)
    decision = evaluate_gate(Y, candidate, NOBODY_ABSTAINS, 0.5, LOADS, CHAMPION)
    checks = {c.name: c for c in decision.checks}
    assert checks["overall"].passed and not checks["per_class"].passed and not decision.passed
    assert "Storage" in checks["per_class"].detail
    assert checks["per_class"].numbers["per_class"]["Storage"]["delta"] == pytest.approx(0.5 - 0.8, abs=0.01)


def test_a_looser_margin_lets_the_same_category_drop_through():
    candidate = _answers(lambda i: Y[i] != "Storage" or i % 2 == 0)
    decision = evaluate_gate(Y, candidate, NOBODY_ABSTAINS, 0.5, LOADS, CHAMPION, GateSettings(max_class_drop=0.4))
    assert decision.passed, decision.summary()


def test_thresholds_that_miss_their_target_precision_are_refused():
    candidate = _answers(lambda i: i % 10 != 0)     # 90 % precise when it answers...
    decision = evaluate_gate(Y, candidate, NOBODY_ABSTAINS, 0.99, LOADS, CHAMPION)  # ...trained for 99 %
    checks = {c.name: c for c in decision.checks}
    assert not checks["thresholds"].passed and not decision.passed
    # abstaining on exactly the wrong answers restores the precision
    abstains = [c != y for c, y in zip(candidate, Y)]
    assert evaluate_gate(Y, candidate, abstains, 0.99, LOADS, CHAMPION).passed


def test_a_candidate_that_does_not_load_is_refused():
    decision = evaluate_gate(Y, _answers(lambda i: True), NOBODY_ABSTAINS, 0.9, (False, "missing booster.txt"),
                             CHAMPION)
    assert not decision.passed and "missing booster.txt" in decision.summary()


def test_the_first_version_has_no_champion_to_lose_to():
    decision = evaluate_gate(Y, _answers(lambda i: i % 10 != 0), NOBODY_ABSTAINS, 0.85, LOADS, None)
    assert decision.passed and [c.name for c in decision.checks] == ["loads", "overall", "thresholds"]
    assert np.isfinite(decision.checks[-1].numbers["target_precision"])
