"""The promotion gate: may a freshly trained candidate go live as challenger?

Candidate and champion answer the same evaluation tickets (the frozen golden
set plus recently corrected tickets); the gate refuses the candidate when

- it does not load as serving would (the registry's own check);
- it is worse overall beyond noise: fewer right answers, with McNemar's exact
  test on the tickets where exactly one of the two is right below ``alpha``;
- any category (with enough tickets) loses more than ``max_class_drop`` of
  accuracy (recall of that true category);
- its abstention thresholds no longer meet their target precision: on the
  tickets it answers without a human, a category's precision falls more than
  ``precision_tolerance`` below the target it was trained for.

Every check keeps its numbers, so the decision logged and written to the
registry history says why. Pure functions: no I/O here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .significance import mcnemar


@dataclass(frozen=True)
class GateSettings:
    alpha: float = 0.05
    max_class_drop: float = 0.10
    min_class_support: int = 10
    precision_tolerance: float = 0.05
    min_confident: int = 10


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str
    numbers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    checks: tuple[GateCheck, ...]

    def as_dict(self) -> dict:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    def summary(self) -> str:
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return "passed: " + "; ".join(c.detail for c in self.checks)
        return "refused: " + "; ".join(c.detail for c in failed)


def _loads(loads: tuple[bool, str]) -> GateCheck:
    ok, reason = loads
    return GateCheck("loads", ok, "loads as serving would" if ok else f"does not load: {reason}")


def _overall(y: np.ndarray, champion: np.ndarray, candidate: np.ndarray, s: GateSettings) -> GateCheck:
    test = mcnemar(champion == y, candidate == y)
    numbers = {"n": test.n, "champion_accuracy": float((champion == y).mean()),
               "candidate_accuracy": float((candidate == y).mean()), "delta": test.delta,
               "delta_ci": [test.delta_low, test.delta_high], "p_value": test.p_value,
               "champion_only": test.champion_only, "candidate_only": test.challenger_only}
    worse = test.delta < 0 and test.p_value < s.alpha
    detail = (f"accuracy {numbers['candidate_accuracy']:.3f} vs champion {numbers['champion_accuracy']:.3f} "
              f"(McNemar p = {test.p_value:.3g})")
    return GateCheck("overall", not worse, ("worse beyond noise: " if worse else "") + detail, numbers)


def _per_class(y: np.ndarray, champion: np.ndarray, candidate: np.ndarray, s: GateSettings) -> GateCheck:
    rows, regressed = {}, []
    for label in sorted(set(y.tolist())):
        mask = y == label
        if mask.sum() < s.min_class_support:
            continue
        a, b = float((champion[mask] == label).mean()), float((candidate[mask] == label).mean())
        rows[label] = {"n": int(mask.sum()), "champion": a, "candidate": b, "delta": b - a}
        if b - a < -s.max_class_drop:
            regressed.append(f"{label} {a:.2f} -> {b:.2f}")
    detail = (f"categories regressing more than {s.max_class_drop:.2f}: {', '.join(regressed)}" if regressed
              else f"no category regresses more than {s.max_class_drop:.2f} ({len(rows)} checked)")
    return GateCheck("per_class", not regressed, detail, {"per_class": rows})


def _thresholds(y: np.ndarray, candidate: np.ndarray, needs_human: np.ndarray, target: float,
                s: GateSettings) -> GateCheck:
    answered = ~needs_human
    rows, short = {}, []
    for label in sorted(set(candidate[answered].tolist())):
        mask = answered & (candidate == label)
        if mask.sum() < s.min_confident:
            continue
        precision = float((y[mask] == label).mean())
        rows[label] = {"n": int(mask.sum()), "precision": precision}
        if precision < target - s.precision_tolerance:
            short.append(f"{label} {precision:.2f}")
    detail = (f"below target precision {target:.2f} (tolerance {s.precision_tolerance:.2f}): {', '.join(short)}"
              if short else f"thresholds meet target precision {target:.2f} ({len(rows)} categories checked)")
    return GateCheck("thresholds", not short, detail, {"target_precision": target, "per_class": rows})


def evaluate_gate(y_true: Sequence[str], candidate_pred: Sequence[str], candidate_needs_human: Sequence[bool],
                  target_precision: float, loads: tuple[bool, str], champion_pred: Sequence[str] | None = None,
                  settings: GateSettings = GateSettings()) -> GateDecision:
    """The gate's decision for one candidate (``champion_pred`` None: nothing serves yet, nothing to lose)."""
    y = np.asarray(list(y_true), dtype=object)
    candidate = np.asarray(list(candidate_pred), dtype=object)
    checks = [_loads(loads)]
    if champion_pred is None:
        checks.append(GateCheck("overall", True, "no champion to compare with"))
    else:
        champion = np.asarray(list(champion_pred), dtype=object)
        checks += [_overall(y, champion, candidate, settings), _per_class(y, champion, candidate, settings)]
    checks.append(_thresholds(y, candidate, np.asarray(list(candidate_needs_human), dtype=bool),
                              target_precision, settings))
    return GateDecision(all(c.passed for c in checks), tuple(checks))
