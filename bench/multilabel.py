"""Multi-label bench: the project's multi-label version against one-vs-rest TF-IDF + LinearSVC.

Data: the synthetic support tickets in ``../shared/datasets/support-tickets-synthetic/``
(CC BY-NC 4.0, derived from Tobias Bueck's "customer-support-tickets" on Hugging Face; read
from there, never copied into the repo). Target: the ticket's ``tags`` (one to eight,
``|``-separated), restricted to the tags on at least ``--min-count`` tickets; tickets with
none of them are left out. Text = subject + body, cleaned and assembled by the training reader.

Each seed makes one split (stratified on each ticket's rarest tag, test ``--test-fraction``).
On the same rows, the project trains a multi-label version (``train_version`` with
``data.multi_label``, exactly what ``python -m training train --multi-label`` runs), measured
through the serving ``Predictor`` at its per-label thresholds; the baseline is TF-IDF (word 1–2
grams, sublinear tf) + one LinearSVC per tag, a tag predicted when its margin is above 0; a third
row gives the same baseline with per-label thresholds chosen by the project's rule on the project's
validation rows (fit on the rest), to show what the thresholds alone are worth. The
table gives the mean ± sd over seeds and the project − baseline difference with the corrected
resampled t interval (bench/paired.py): a gain counts only when the interval is above zero.

    .venv/bin/python -m bench.multilabel                          # seeds 42 7 13, tags on >= 100 tickets
    .venv/bin/python -m bench.multilabel --seeds 42 --variant "target 0.6:thresholds.label_target_precision=0.6"
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.machine import describe_cpu
from bench.paired import format_difference, mean_sd, paired_difference
from bench.quality import parse_variant
from stream.config import Settings
from stream.inference.multilabel import JOIN, indicator, split_labels
from stream.inference.predictor import Predictor
from training.config import load_config
from training.multilabel.labels import label_counts, label_matrix, split_rows
from training.multilabel.metrics import compute_multilabel_metrics
from training.multilabel.thresholds import as_mapping, choose_label_thresholds
from training.prepare import PreparedData, prepare
from training.train import open_embedder, train_version

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("shared") / "datasets" / "support-tickets-synthetic" / "tickets.csv.gz"  # beside the repo (or above)
TEXT_COLS = ("subject", "body")
THRESHOLDED = {"baseline": "thresholds"}  # marks the baseline row with the project's threshold rule
KEYS = ("micro_f1", "macro_f1", "hamming_loss", "micro_precision", "micro_recall", "subset_accuracy",
        "precision_at_1")


def _data_path(arg: str | None) -> Path:
    for path in ([Path(arg)] if arg else [parent / DATA for parent in ROOT.parents]):
        if path.is_file():
            return path
    raise SystemExit(f"data not found: {arg or '../' + str(DATA)} (see the dataset's README; it is not in the repo)")


def load_frequent(data: Path, min_count: int, config) -> tuple[pd.DataFrame, list[str]]:
    """Cleaned tickets whose tags are cut to the frequent ones (tickets left with none dropped)."""
    cfg = config.replace(data={"path": str(data), "multi_label": True, "label_separator": "|",
                               "columns": {"text": list(TEXT_COLS), "label": "tags"}})
    frame = prepare([pd.read_csv(data)], cfg, {}, progress=False).frame
    frequent = {label for label, n in label_counts(frame).items() if n >= min_count}
    frame = frame.assign(label=[JOIN.join(t for t in split_labels(v) if t in frequent) for v in frame["label"]])
    return frame[frame["label"] != ""].reset_index(drop=True), sorted(frequent)


def baseline(train: pd.DataFrame, test_texts: list[str], labels: list[str]) -> np.ndarray:
    """One-vs-rest TF-IDF + LinearSVC: (n, labels) margins, a tag predicted above 0."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    Y = indicator([split_labels(v) for v in train["label"]], labels)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                          OneVsRestClassifier(LinearSVC(C=0.5)))
    return np.asarray(model.fit(train["text"].tolist(), Y).decision_function(test_texts))


def thresholded_baseline(train: pd.DataFrame, test_texts: list[str], labels: list[str], config, seed: int):
    """The baseline fit on the project's fit rows, per-label thresholds chosen on its validation rows
    by the project's rule: what the thresholds alone are worth. (margins, thresholds)."""
    Y = indicator([split_labels(v) for v in train["label"]], labels)
    fit_idx, val_idx = split_rows(Y, config.data.val_fraction, seed)
    fit_rows, val_texts = train.iloc[fit_idx], train["text"].iloc[val_idx].tolist()
    margins = baseline(fit_rows, val_texts + list(test_texts), labels)
    rows = choose_label_thresholds(margins[:len(val_texts)], Y[val_idx], labels,
                                   config.thresholds.label_target_precision, config.thresholds.min_support)
    return margins[len(val_texts):], as_mapping(rows)


def run_seed(frame: pd.DataFrame, labels: list[str], seed: int, test_fraction: float, systems, base, embedder,
             workdir: Path) -> dict:
    _, Y = label_matrix(frame)
    train_idx, test_idx = split_rows(Y, test_fraction, seed)
    train, test = frame.iloc[train_idx].reset_index(drop=True), frame.iloc[test_idx]
    texts, true_sets = test["text"].tolist(), [split_labels(v) for v in test["label"]]
    out = {}
    for name, overrides in systems:
        start = time.time()
        if overrides is None:
            margins = baseline(train, texts, labels)
            metrics = compute_multilabel_metrics(true_sets, margins, labels, {label: 0.0 for label in labels})
        elif overrides == THRESHOLDED:
            margins, thresholds = thresholded_baseline(train, texts, labels, load_config(), seed)
            metrics = compute_multilabel_metrics(true_sets, margins, labels, thresholds)
        else:
            config = load_config().replace(**_merge(base, {"seed": seed}, overrides))
            outcome = train_version(config, workdir / f"registry-{seed}", embedder=embedder, progress=False,
                                    prepared=PreparedData(frame=train, rows_read=len(train)))
            predictor = Predictor.load(outcome.path, embedder=embedder)
            metrics = compute_multilabel_metrics(true_sets, predictor.predict_proba(texts), predictor.labels,
                                                 predictor.thresholds)
            metrics["labels_learned"] = len(predictor.labels)
        metrics["seconds"] = time.time() - start
        out[name] = metrics
        print(f"seed {seed} {name}: micro-F1 {metrics['micro_f1']:.4f} macro-F1 {metrics['macro_f1']:.4f} "
              f"({metrics['seconds']:.0f} s)", file=sys.stderr, flush=True)
    out["_split"] = {"train": len(train), "test": len(test)}
    return out


def _merge(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
                else value
    return out


def report(results: dict, names: list[str], header: list[str], test_fraction: float) -> list[str]:
    seeds = list(results)
    lines = header + ["", "| system | " + " | ".join(KEYS) + " | train s |",
                      "| --- |" + " --- |" * (len(KEYS) + 1)]
    for name in names:
        cells = [mean_sd([results[s][name][k] for s in seeds]) for k in KEYS]
        seconds = np.mean([results[s][name]["seconds"] for s in seeds])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    lines += ["", f"Per seed micro-F1 ({', '.join(map(str, seeds))}): " + "; ".join(
        f"{n} " + " / ".join(f"{results[s][n]['micro_f1']:.4f}" for s in seeds) for n in names)]
    pairs = [(name, names[0]) for name in names[1:]] + [(names[1], names[2])]
    for name, other in pairs:
        for key in ("micro_f1", "macro_f1", "hamming_loss"):
            gain = [results[s][name][key] - results[s][other][key] for s in seeds]
            if key == "hamming_loss":  # lower is better: a gain is a reduction
                gain = [-g for g in gain]
            d = paired_difference(gain, [0.0] * len(gain), test_fraction)
            what = "reduction of hamming_loss" if key == "hamming_loss" else key
            lines.append(f"- {name} vs {other}, {what}: {format_difference(d)} ({d.verdict})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the tickets file (default: ../{DATA})")
    ap.add_argument("--min-count", type=int, default=100, help="keep the tags on at least N tickets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 13], help="one split (and model seed) each")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=1, help="LightGBM threads (1 on a busy shared machine)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:section.key=value,…",
                    help="an extra project row with training config overrides; repeatable")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data = _data_path(args.data)
    config = load_config()
    frame, labels = load_frequent(data, args.min_count, config)
    embedder = open_embedder(config, Settings.from_env().embedder_dir)
    embedder.embed(frame["text"].tolist())  # once, into the cache every seed reads
    systems = [("TF-IDF + LinearSVC (one-vs-rest)", None), ("project (multi-label)", {}),
               ("TF-IDF + LinearSVC, project's thresholds", THRESHOLDED)]
    systems += [parse_variant(spec) for spec in args.variant]
    base = {"data": {"multi_label": True, "test_fraction": 0.0, "min_class_count": 10},
            "lightgbm": {"num_threads": args.threads}}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-multilabel-") as tmp:
        for seed in args.seeds:
            results[seed] = run_seed(frame, labels, seed, args.test_fraction, systems, base, embedder, Path(tmp))
    split = results[args.seeds[0]]["_split"]
    _, Y = label_matrix(frame)
    header = [f"CPU: {describe_cpu()}",
              f"Data: {data.name} (synthetic, CC BY-NC 4.0), `tags` on >= {args.min_count} tickets: {len(labels)} "
              f"tags, {len(frame)} tickets, {Y.sum(axis=1).mean():.2f} tags per ticket; text = subject + body; "
              f"{len(args.seeds)} splits stratified on the rarest tag (train {split['train']}, test {split['test']}).",
              "Baseline tags: margin > 0. Project tags: probability >= the label's threshold for a validation "
              f"precision of {config.thresholds.label_target_precision} (thresholds.label_target_precision)."]
    names = [name for name, _ in systems]
    print("\n".join(report(results, names, header, args.test_fraction)))
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
