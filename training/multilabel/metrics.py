"""Multi-label metrics, computed from the predictor's probabilities and its per-label thresholds.

The predicted set of a ticket is what serving publishes (``Prediction.labels``):
every label at or above its own threshold. Set metrics (micro/macro F1, Hamming
loss, subset accuracy) read that set; precision@k reads the ranking alone
(the k most probable labels, whatever the thresholds), so it says how useful
the ranked list is to a human who picks from it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import hamming_loss, precision_recall_fscore_support

from stream.inference.multilabel import indicator, label_sets

from ..evaluate import LONG_MIN_WORDS, SHORT_MAX_WORDS

TOP_KS = (1, 2, 3)


def precision_at_k(Y: np.ndarray, proba: np.ndarray, k: int) -> float:
    """Mean over tickets of the share of its k most probable labels that it truly carries."""
    k = min(k, proba.shape[1])
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(Y, top, axis=1).sum(axis=1).mean() / k)


def predicted_matrix(proba: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]) -> np.ndarray:
    return indicator(label_sets(proba, labels, thresholds), labels)


def set_metrics(Y: np.ndarray, P: np.ndarray, proba: np.ndarray) -> dict:
    """The headline numbers of true sets ``Y`` against predicted sets ``P`` (both 0/1 matrices)."""
    micro = precision_recall_fscore_support(Y, P, average="micro", zero_division=0)
    macro = precision_recall_fscore_support(Y, P, average="macro", zero_division=0)
    out = {
        "n": int(len(Y)),
        "micro_precision": float(micro[0]), "micro_recall": float(micro[1]), "micro_f1": float(micro[2]),
        "macro_precision": float(macro[0]), "macro_recall": float(macro[1]), "macro_f1": float(macro[2]),
        "hamming_loss": float(hamming_loss(Y, P)),
        "subset_accuracy": float((Y == P).all(axis=1).mean()),
        "labels_per_ticket_true": float(Y.sum(axis=1).mean()),
        "labels_per_ticket_predicted": float(P.sum(axis=1).mean()),
        "empty_sets": float((P.sum(axis=1) == 0).mean()),   # needs_human: no label reached its threshold
    }
    out.update({f"precision_at_{k}": precision_at_k(Y, proba, k) for k in TOP_KS})
    return out


def compute_multilabel_metrics(true_sets: Sequence[Sequence[str]], proba: np.ndarray, labels: Sequence[str],
                               thresholds: dict[str, float]) -> dict:
    """Headline metrics + per-label precision/recall/F1/support/threshold; unknown true labels are counted."""
    labels = list(labels)
    if not len(true_sets):
        raise ValueError("no rows to evaluate")
    known = set(labels)
    Y = indicator(true_sets, labels)
    P = predicted_matrix(proba, labels, thresholds)
    out = set_metrics(Y, P, proba)
    p, r, f, s = precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    out["per_label"] = {label: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]),
                                "support": int(s[j]), "predicted": int(P[:, j].sum()),
                                "threshold": float(thresholds[label])} for j, label in enumerate(labels)}
    out["unknown_labels"] = int(sum(1 for names in true_sets for name in names if name not in known))
    out["task"] = "multi_label"
    return out


def slice_metrics(texts: Sequence[str], true_sets: Sequence[Sequence[str]], proba: np.ndarray,
                  labels: Sequence[str], thresholds: dict[str, float], languages: Sequence[str] | None = None) -> dict:
    """Headline metrics per slice: short/medium/long tickets, tickets carrying each label, each language."""
    labels = list(labels)
    words = np.array([len(t.split()) for t in texts])
    Y = indicator(true_sets, labels)
    slices = {
        f"length:short(<={SHORT_MAX_WORDS}w)": words <= SHORT_MAX_WORDS,
        "length:medium": (words > SHORT_MAX_WORDS) & (words < LONG_MIN_WORDS),
        f"length:long(>={LONG_MIN_WORDS}w)": words >= LONG_MIN_WORDS,
    }
    slices.update({f"label:{label}": Y[:, j] == 1 for j, label in enumerate(labels)})
    if languages is not None:
        lang = np.asarray(list(languages), dtype=object)
        slices.update({f"language:{code}": lang == code for code in sorted(set(lang))})
    P = predicted_matrix(proba, labels, thresholds)
    keys = ("n", "micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "precision_at_1")
    return {name: ({k: v for k, v in set_metrics(Y[mask], P[mask], proba[mask]).items() if k in keys}
                   if mask.any() else {"n": 0}) for name, mask in slices.items()}


def format_report(metrics: dict, title: str = "evaluation") -> str:
    """A readable plain-text report of :func:`compute_multilabel_metrics` output."""
    def pct(v):
        return "   n/a" if v is None else f"{100 * v:6.2f}"

    lines = [f"{title}: {metrics['n']} tickets (multi-label)",
             f"  micro F1 / precision / recall {pct(metrics['micro_f1'])} {pct(metrics['micro_precision'])} "
             f"{pct(metrics['micro_recall'])} %",
             f"  macro F1                      {pct(metrics['macro_f1'])} %",
             f"  Hamming loss                  {metrics['hamming_loss']:.4f}",
             f"  subset accuracy               {pct(metrics['subset_accuracy'])} %",
             "  precision@1 / @2 / @3         " + " ".join(pct(metrics[f"precision_at_{k}"]) for k in TOP_KS) + " %",
             f"  labels per ticket true / pred {metrics['labels_per_ticket_true']:.2f} / "
             f"{metrics['labels_per_ticket_predicted']:.2f} (empty sets {pct(metrics['empty_sets'])} %)",
             "",
             f"  {'label':<26} {'prec':>6} {'recall':>6} {'F1':>6} {'thresh':>6} {'support':>8}"]
    for label, row in metrics["per_label"].items():
        lines.append(f"  {label:<26} {pct(row['precision'])} {pct(row['recall'])} {pct(row['f1'])} "
                     f"{row['threshold']:6.3f} {row['support']:>8}")
    return "\n".join(lines)
