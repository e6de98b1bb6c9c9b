"""Champion against challenger on live traffic: the numbers and the verdict.

Input is what the sink stored for a time window (see :mod:`training.live`):
each arm's predictions and the tickets' human labels (a correction or a
confirmation from Slack). On labelled tickets each arm gets its accuracy and
precision@2 with Wilson intervals; on all its tickets, its abstention rate.
The verdict comes from the tickets both arms answered (shadow mode: all of
them) with McNemar's exact test, or, when the arms saw different tickets (split
mode), from independent bootstraps of the accuracy difference. Too few labelled
tickets, or a difference within noise, is "not enough evidence yet": the report
never calls a winner it cannot back.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .significance import mcnemar, unpaired_delta, wilson

BETTER, WORSE, UNDECIDED = "better", "worse", "not_enough_evidence"
VERDICT_TEXT = {BETTER: "challenger better", WORSE: "challenger worse", UNDECIDED: "not enough evidence yet"}


@dataclass(frozen=True)
class CompareSettings:
    """How much evidence a verdict needs."""

    alpha: float = 0.05          # McNemar / bootstrap level
    min_labelled: int = 30       # labelled tickets (per comparison) before any verdict
    seed: int = 0


def _arm_frame(predictions: pd.DataFrame, version: str, labels: dict[str, str]) -> pd.DataFrame:
    arm = predictions[predictions["model_version"] == version].drop_duplicates("ticket_id", keep="last")
    arm = arm.set_index("ticket_id")
    arm["label"] = [labels.get(t) for t in arm.index]
    arm["right"] = arm["category"] == arm["label"]
    arm["right_at_2"] = [label in list(top or [])[:2] for label, top in zip(arm["label"], arm["top_k"])]
    return arm


def _arm_stats(arm: pd.DataFrame) -> dict:
    labelled = arm[arm["label"].notna()]
    n = len(labelled)
    right, right2 = int(labelled["right"].sum()), int(labelled["right_at_2"].sum())
    return {
        "predicted": int(len(arm)),
        "abstention_rate": float(arm["needs_human"].astype(bool).mean()) if len(arm) else None,
        "labelled": n,
        "accuracy": right / n if n else None,
        "accuracy_ci": wilson(right, n),
        "precision_at_2": right2 / n if n else None,
        "precision_at_2_ci": wilson(right2, n),
    }


def compare_arms(predictions: pd.DataFrame, labels: dict[str, str], champion: str, challenger: str,
                 settings: CompareSettings = CompareSettings()) -> dict:
    """The report of :mod:`training.compare` (a JSON-ready dict; ``verdict`` is better/worse/not_enough_evidence)."""
    a, b = _arm_frame(predictions, champion, labels), _arm_frame(predictions, challenger, labels)
    both = a.index.intersection(b.index)
    agreement = float((a.loc[both, "category"] == b.loc[both, "category"]).mean()) if len(both) else None
    labelled_both = [t for t in both if labels.get(t) is not None]
    report = {
        "champion": champion, "challenger": challenger,
        "arms": {"champion": _arm_stats(a), "challenger": _arm_stats(b)},
        "agreement": {"tickets": int(len(both)), "rate": agreement},
        "per_class": _per_class(a, b, labelled_both),
        "paired": None, "unpaired": None,
    }
    if len(labelled_both) >= settings.min_labelled:
        test = mcnemar(a.loc[labelled_both, "right"].to_numpy(), b.loc[labelled_both, "right"].to_numpy(),
                       settings.seed)
        report["paired"] = test.as_dict()
        verdict = UNDECIDED if test.p_value >= settings.alpha else (BETTER if test.delta > 0 else WORSE)
        reason = (f"McNemar exact on {test.n} tickets both arms answered: challenger alone right on "
                  f"{test.challenger_only}, champion alone right on {test.champion_only}, p = {test.p_value:.4g}")
    else:
        only_a = a[a["label"].notna() & ~a.index.isin(both)]
        only_b = b[b["label"].notna() & ~b.index.isin(both)]
        if min(len(only_a), len(only_b)) >= settings.min_labelled:
            delta, low, high = unpaired_delta(only_a["right"].to_numpy(), only_b["right"].to_numpy(), settings.seed)
            report["unpaired"] = {"champion_n": len(only_a), "challenger_n": len(only_b), "delta": delta,
                                  "delta_low": low, "delta_high": high}
            verdict = BETTER if low > 0 else WORSE if high < 0 else UNDECIDED
            reason = (f"accuracy difference {delta:+.3f} on different tickets, 95% interval "
                      f"[{low:+.3f}, {high:+.3f}]")
        else:
            verdict = UNDECIDED
            reason = (f"{len(labelled_both)} labelled tickets answered by both arms "
                      f"(need {settings.min_labelled})")
    report["verdict"], report["reason"] = verdict, reason
    return report


def _per_class(a: pd.DataFrame, b: pd.DataFrame, tickets: list[str]) -> list[dict]:
    """Accuracy of each arm per true category, on the tickets both answered."""
    if not tickets:
        return []
    frame = pd.DataFrame({"label": a.loc[tickets, "label"], "a": a.loc[tickets, "right"],
                          "b": b.loc[tickets, "right"]})
    rows = []
    for label, group in frame.groupby("label"):
        acc_a, acc_b = float(group["a"].mean()), float(group["b"].mean())
        rows.append({"category": str(label), "n": int(len(group)), "champion_accuracy": acc_a,
                     "challenger_accuracy": acc_b, "delta": acc_b - acc_a})
    return sorted(rows, key=lambda r: r["delta"])


def format_report(report: dict) -> str:
    def pct(x):
        return "   n/a" if x is None else f"{100 * x:5.1f}%"

    def ci(pair):
        low, high = pair
        return "" if low is None else f" [{100 * low:.1f}, {100 * high:.1f}]"

    window = report.get("window") or {}
    lines = [f"champion {report['champion']}  vs  challenger {report['challenger']}"]
    if window:
        lines.append(f"window {window.get('since')} .. {window.get('until')}")
    lines.append(f"{'arm':<11} {'tickets':>7} {'abstain':>7} {'labelled':>8}  accuracy [95% CI]      precision@2 [95% CI]")
    for name, s in report["arms"].items():
        lines.append(f"{name:<11} {s['predicted']:>7} {pct(s['abstention_rate']):>7} {s['labelled']:>8}  "
                     f"{pct(s['accuracy'])}{ci(s['accuracy_ci']):<15} {pct(s['precision_at_2'])}"
                     f"{ci(s['precision_at_2_ci'])}")
    ag = report["agreement"]
    lines.append(f"agreement {pct(ag['rate'])} on {ag['tickets']} tickets both arms answered")
    if report["per_class"]:
        lines.append("per class (true category, tickets both answered): champion -> challenger accuracy")
        for row in report["per_class"]:
            lines.append(f"  {row['category']:<24} n={row['n']:<4} {pct(row['champion_accuracy'])} -> "
                         f"{pct(row['challenger_accuracy'])}  ({100 * row['delta']:+.1f} points)")
    lines.append(f"verdict: {VERDICT_TEXT[report['verdict']]} ({report['reason']})")
    return "\n".join(lines)
