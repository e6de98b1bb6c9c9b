"""Metrics of a model on labelled data, computed from the predictor's own output.

Everything here takes probabilities and the abstain decisions that
:class:`stream.inference.predictor.Predictor` produced, so offline numbers are
the numbers of the serving path.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

# Word-count bounds of the length slices: the shipped data's median ticket has 26 words.
SHORT_MAX_WORDS = 15
LONG_MIN_WORDS = 100


def compute_metrics(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str],
                    needs_human: Sequence[bool]) -> dict:
    """Headline metrics + per-class precision/recall/F1."""
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index.get(t, -1) for t in y_true])
    n = len(y)
    if n == 0:
        raise ValueError("no rows to evaluate")
    pred = proba.argmax(axis=1)
    abstain = np.asarray(needs_human, dtype=bool)
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(len(labels)), zero_division=0)
    macro = precision_recall_fscore_support(y, pred, labels=range(len(labels)), average="macro", zero_division=0)
    weighted = precision_recall_fscore_support(y, pred, labels=range(len(labels)), average="weighted",
                                               zero_division=0)
    kept = ~abstain
    per_class = {}
    for i, label in enumerate(labels):
        predicted = pred == i
        per_class[label] = {
            "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i]),
            "coverage": float(kept[predicted].mean()) if predicted.any() else 0.0,
            "precision_when_not_abstained": float((y[predicted & kept] == i).mean())
            if (predicted & kept).any() else None,
        }
    return {
        "n": int(n),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(macro[2]),
        "macro_precision": float(macro[0]),
        "macro_recall": float(macro[1]),
        "weighted_precision": float(weighted[0]),
        "weighted_f1": float(weighted[2]),
        "precision_at_2": float((top2 == y[:, None]).any(axis=1).mean()) if proba.shape[1] > 1 else
        float((pred == y).mean()),
        "coverage": float(kept.mean()),
        "precision_when_not_abstained": float((pred[kept] == y[kept]).mean()) if kept.any() else None,
        "unknown_labels": int((y < 0).sum()),
        "per_class": per_class,
    }


def confusion(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index.get(t, -1) for t in y_true])
    known = y >= 0
    return confusion_matrix(y[known], proba.argmax(axis=1)[known], labels=range(len(labels)))


def slice_metrics(texts: Sequence[str], y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str],
                  needs_human: Sequence[bool], languages: Sequence[str] | None = None) -> dict:
    """Metrics per slice: short/medium/long tickets, each true category and, given ``languages``, each language."""
    words = np.array([len(t.split()) for t in texts])
    y_arr = np.asarray(list(y_true), dtype=object)
    nh = np.asarray(needs_human, dtype=bool)
    slices = {
        f"length:short(<={SHORT_MAX_WORDS}w)": words <= SHORT_MAX_WORDS,
        "length:medium": (words > SHORT_MAX_WORDS) & (words < LONG_MIN_WORDS),
        f"length:long(>={LONG_MIN_WORDS}w)": words >= LONG_MIN_WORDS,
    }
    slices.update({f"category:{label}": y_arr == label for label in labels})
    if languages is not None:
        lang_arr = np.asarray(list(languages), dtype=object)
        slices.update({f"language:{lang}": lang_arr == lang for lang in sorted(set(lang_arr))})
    out = {}
    for name, mask in slices.items():
        if not mask.any():
            out[name] = {"n": 0}
            continue
        m = compute_metrics(list(y_arr[mask]), proba[mask], labels, nh[mask])
        out[name] = {k: m[k] for k in ("n", "accuracy", "macro_f1", "precision_at_2", "coverage",
                                        "precision_when_not_abstained")}
    return out


def format_report(metrics: dict, title: str = "evaluation") -> str:
    """A readable plain-text report of :func:`compute_metrics` output."""
    def pct(v):
        return "   n/a" if v is None else f"{100 * v:6.2f}"

    lines = [f"{title}: {metrics['n']} tickets",
             f"  accuracy                      {pct(metrics['accuracy'])} %",
             f"  macro F1                      {pct(metrics['macro_f1'])} %",
             f"  macro precision               {pct(metrics['macro_precision'])} %",
             f"  weighted precision            {pct(metrics['weighted_precision'])} %",
             f"  precision@2                   {pct(metrics['precision_at_2'])} %",
             f"  coverage (not abstained)      {pct(metrics['coverage'])} %",
             f"  precision when not abstained  {pct(metrics['precision_when_not_abstained'])} %",
             "",
             f"  {'category':<26} {'prec':>6} {'recall':>6} {'F1':>6} {'cover':>6} {'support':>8}"]
    for label, row in metrics["per_class"].items():
        lines.append(f"  {label:<26} {pct(row['precision'])} {pct(row['recall'])} {pct(row['f1'])} "
                     f"{pct(row['coverage'])} {row['support']:>8}")
    by_language = {k.split(":", 1)[1]: v for k, v in (metrics.get("slices") or {}).items()
                   if k.startswith("language:") and v.get("n")}
    if by_language:
        lines += ["", f"  {'language':<26} {'acc':>6} {'F1':>6} {'prec@2':>6} {'cover':>6} {'n':>8}"]
        for lang, row in sorted(by_language.items(), key=lambda kv: -kv[1]["n"]):
            lines.append(f"  {lang:<26} {pct(row['accuracy'])} {pct(row['macro_f1'])} "
                         f"{pct(row['precision_at_2'])} {pct(row['coverage'])} {row['n']:>8}")
    return "\n".join(lines)
