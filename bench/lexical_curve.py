"""Learning curve of the lexical block: what ``lexical.max_fit_rows`` gives up when it bites.

Past the cap, training fits the TF-IDF + LinearSVC block on a stratified sample of the fit
rows (docs/training.md, "Scale"). This fits the same block (``training.lexical``, the
configured vectorizer and classifier) on growing stratified shares of one 80/20 split's
training rows and scores it on the 20 % it never saw, so the loss of a smaller sample is
read off one curve per split. The lexical block alone is cheap enough to run many sizes;
the whole model's loss at one cap is ``bench.quality --variant 'cap:lexical.max_fit_rows=N'``.

    .venv/bin/python -m bench.lexical_curve --seed 44 --seeds 2 --fractions 0.25,0.5,0.75,1
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench.machine import describe_cpu
from bench.paired import format_difference, paired_difference
from bench.quality import LABEL_SETS, TEST_FRACTION, load_label_set
from training.config import load_config
from training.evaluate import compute_metrics
from training.lexical import build_classifier, build_vectorizer
from training.split import capped_rows, stratified_split


def fit_and_score(train_texts, train_y, test_texts, cfg, seed) -> np.ndarray:
    vectorizer = build_vectorizer(cfg, len(train_texts))
    clf = build_classifier(cfg, seed).fit(vectorizer.fit_transform(train_texts), train_y)
    return clf.decision_function(vectorizer.transform(test_texts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label-set", default="shipped", choices=sorted(LABEL_SETS))
    ap.add_argument("--seed", type=int, default=42, help="first split (seed, seed+1, …)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--fractions", default="0.25,0.5,0.75,1", help="shares of the training rows to fit on")
    args = ap.parse_args(argv)
    fractions = sorted(float(f) for f in args.fractions.split(","))
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        ap.error("--fractions: shares in (0, 1]")
    config = load_config()
    frame = load_label_set(args.label_set, LABEL_SETS[args.label_set], config, None).frame
    labels = sorted(frame["label"].unique())
    y_all = np.array([labels.index(v) for v in frame["label"]])
    texts = frame["text"].tolist()
    print(f"machine: {describe_cpu()}; {args.label_set}: {len(frame):,} tickets, {len(labels)} labels")
    results = {f: [] for f in fractions}  # fraction → [(accuracy, p@2)] per seed
    for seed in range(args.seed, args.seed + args.seeds):
        train_idx, test_idx = stratified_split(len(frame), y_all, TEST_FRACTION, seed)
        test_texts, test_labels = [texts[i] for i in test_idx], frame["label"].iloc[test_idx].tolist()
        for f in fractions:
            keep = train_idx[capped_rows(y_all[train_idx], max(int(round(f * len(train_idx))), 100), seed)]
            t = time.time()
            scores = fit_and_score([texts[i] for i in keep], y_all[keep], test_texts, config.lexical, seed)
            m = compute_metrics(test_labels, scores, labels, [False] * len(test_labels))
            acc, p2 = m["accuracy"], m["precision_at_2"]
            results[f].append((acc, p2))
            print(f"  seed {seed}: {len(keep):,} rows ({f:.0%}): accuracy {acc:.4f} p@2 {p2:.4f} "
                  f"({time.time() - t:.0f} s)", file=sys.stderr)
    n_train = len(train_idx)
    print("\n| share of training rows | rows | accuracy | precision@2 | accuracy − all rows | precision@2 − all rows |")
    print("| ---: | ---: | ---: | ---: | --- | --- |")
    full = np.array(results[fractions[-1]])
    for f in fractions:
        got = np.array(results[f])
        diffs = ["", ""] if f == fractions[-1] else [
            format_difference(paired_difference(got[:, k], full[:, k], TEST_FRACTION)) for k in (0, 1)]
        print(f"| {f:.0%} | {int(round(f * n_train)):,} | {got[:, 0].mean():.4f} | {got[:, 1].mean():.4f} | "
              f"{diffs[0]} | {diffs[1]} |")
    print("\n(means over the splits; differences paired by split, 95 % corrected resampled t interval)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
