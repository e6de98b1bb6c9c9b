"""Quality bench: the project's model vs a TF-IDF + LinearSVC baseline vs e5 + LightGBM alone.

All systems see the same stratified 80/20 split of the shipped dataset; the
project's models are trained into a temporary registry and measured through
the serving ``Predictor`` on the 20 % they never saw. Prints a markdown table.

    .venv/bin/python -m bench.quality                 # full run (first run embeds 38K tickets)
    .venv/bin/python -m bench.quality --sample 4000   # quick look
    .venv/bin/python -m bench.quality --resample      # also measure rebalancing
    .venv/bin/python -m bench.quality --seed 7        # another split: is a gap more than noise?

For the project's model it also prints how often the evidence's closest
neighbour carries the true label, on all test tickets and on the abstained ones.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from stream.config import Settings
from stream.inference.features import needs_embedder
from stream.inference.predictor import Predictor
from training.config import load_config
from training.evaluate import compute_metrics
from training.split import stratified_split
from training.prepare import PreparedData
from training.train import load_data, open_embedder, stratified_sample, train_version

DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"


def baseline(train_texts, train_y, test_texts, labels) -> np.ndarray:
    """TF-IDF (word 1-2 grams, sublinear tf) + LinearSVC: decision scores as ranking."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), LinearSVC(C=0.5))
    model.fit(train_texts, train_y)
    order = {c: i for i, c in enumerate(model.classes_)}
    scores = model.decision_function(test_texts)
    return scores[:, [order[label] for label in labels]]


def row(name: str, m: dict, seconds: float, thresholds: bool) -> str:
    cov = f"{m['coverage']:.3f} / {m['precision_when_not_abstained']:.3f}" if thresholds else "1.000 / (no abstain)"
    return (f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['precision_at_2']:.4f} | {cov} "
            f"| {seconds:.0f} s |")


def neighbour_agreement(name: str, predictions, truth) -> str:
    """How often the closest neighbour shown as evidence has the true label (all / abstained tickets)."""
    def share(rows) -> str:
        rows = [(p, t) for p, t in rows if p.evidence and p.evidence.neighbours]
        if not rows:
            return "n/a"
        hits = np.array([p.evidence.neighbours[0].label == t for p, t in rows])
        model = np.array([p.category == t for p, t in rows])
        return (f"{hits.mean():.3f} (model's own category: {model.mean():.3f}; "
                f"either of the two: {(hits | model).mean():.3f}; n={len(rows)})")

    rows = list(zip(predictions, truth))
    return (f"Evidence ({name}): top neighbour's label = true label on all test tickets {share(rows)}; "
            f"on abstained tickets {share([r for r in rows if r[0].needs_human])}.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--sample", type=int, help="stratified subset of the data (quick runs)")
    ap.add_argument("--config", help="YAML training config for the project's model")
    ap.add_argument("--resample", action="store_true", help="also train with rebalancing on")
    ap.add_argument("--skip-e5-only", action="store_true")
    ap.add_argument("--seed", type=int, help="another split and model seed (default: the config's, 42)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env()
    config = load_config(args.config).replace(data={"path": args.data, "test_fraction": 0.0})
    if args.seed is not None:
        config = config.replace(seed=args.seed)
    prepared = load_data(config)
    frame = stratified_sample(prepared.frame, args.sample, config.seed)
    labels = sorted(frame["label"].unique())
    y = np.array([labels.index(v) for v in frame["label"]])
    train_idx, test_idx = stratified_split(len(frame), y, 0.2, config.seed)
    train_df, test_df = frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]
    test_texts, test_y = test_df["text"].tolist(), test_df["label"].tolist()
    train_part = PreparedData(frame=train_df.reset_index(drop=True), rows_read=prepared.rows_read,
                              drop_reasons=prepared.drop_reasons)
    embedder = open_embedder(config, settings.embedder_dir)
    lines = [f"Stratified 80/20 split of {Path(args.data).name} (seed {config.seed}): {len(train_df)} train / "
             f"{len(test_df)} test tickets, {len(labels)} categories.", "",
             "| system | accuracy | macro-F1 | precision@2 | coverage / precision at thresholds | time |",
             "| --- | --- | --- | --- | --- | --- |"]

    t = time.time()
    scores = baseline(train_df["text"].tolist(), train_df["label"].tolist(), test_texts, labels)
    m = compute_metrics(test_y, scores, labels, [False] * len(test_y))
    lines.append(row("TF-IDF + LinearSVC (baseline)", m, time.time() - t, thresholds=False))
    print(lines[-1], file=sys.stderr, flush=True)

    if embedder is not None:
        embedder.embed(frame["text"].tolist())  # fill the cache once, outside the timed runs

    variants = [("project: e5 + kNN votes + lexical → LightGBM", config)]
    if not args.skip_e5_only:
        variants.append(("e5 + LightGBM alone", config.replace(feature_blocks=["embedding"])))
    if args.resample:
        counts = train_df["label"].value_counts()
        cap, target = int(counts.max() * 0.6), int(counts.median())
        variants.append((f"project + resampling (cap {cap}, SMOTE to {target})",
                         config.replace(resample={"undersample_cap": cap, "smote_target": target})))
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as registry:
        for name, cfg in variants:
            t = time.time()
            outcome = train_version(cfg, registry, embedder=embedder if needs_embedder(cfg.feature_blocks) else None,
                                    prepared=train_part, progress=False)
            predictor = Predictor.load(outcome.path, embedder=embedder,
                                       load_embedder=needs_embedder(cfg.feature_blocks))
            proba = predictor.predict_proba(test_texts)
            nh = [d.needs_human for d in predictor.decide(proba)]
            m = compute_metrics(test_y, proba, predictor.labels, nh)
            lines.append(row(name, m, time.time() - t, thresholds=True))
            print(lines[-1], file=sys.stderr, flush=True)
            if "knn" in cfg.feature_blocks:
                notes.append(neighbour_agreement(name, predictor.predict(test_texts), test_y))
    target = config.thresholds.target_precision
    lines += [""] + notes
    lines += ["", f"Thresholds: per class, chosen on a validation split of the training part for a target "
                  f"precision of {target:.2f}; coverage = share of test tickets not flagged needs_human."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
