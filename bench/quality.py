"""Quality bench: the project's model vs a TF-IDF + LinearSVC baseline, over repeated splits and label sets.

For each label set and each seed, all systems see the same stratified 80/20 split; the
project's models are trained into a temporary registry and measured through the serving
``Predictor`` on the 20 % they never saw. Prints, per label set, mean ± sd per system and
the paired difference to the baseline (and to the project's default for ``--variant``s) with
the corrected resampled t interval (bench/paired.py). Label sets:

- ``shipped``: data/it-service-tickets, 8 categories (``--data`` replaces the file);
- ``synthetic-queue`` / ``synthetic-type``: the English tickets of
  /work/shared/datasets/support-tickets-synthetic (CC BY-NC 4.0: read in place, never copied).

    .venv/bin/python -m bench.quality                                  # one split of the shipped data (seed 42)
    .venv/bin/python -m bench.quality --sample 4000                    # quick look
    .venv/bin/python -m bench.quality --seeds 5 --label-sets all --skip-e5-only   # the protocol
    .venv/bin/python -m bench.quality --seeds 5 --variant 'k50:neighbours.k=50'   # a candidate default
    .venv/bin/python -m bench.quality --seeds 2 --every-ticket   # the lexical shortcut vs embedding every ticket

For the project's model it also prints how often the evidence's closest neighbour carries the
true label, on all test tickets and on the abstained ones.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_cpu
from bench.paired import format_difference, mean_sd, paired_difference
from stream.config import Settings
from stream.inference.features import needs_embedder
from stream.inference.predictor import Predictor
from training.config import load_config
from training.embed import text_key
from training.evaluate import compute_metrics
from training.prepare import PreparedData, prepare
from training.split import stratified_split
from training.train import open_embedder, stratified_sample, train_version

DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"
SYNTHETIC = ROOT.parent / "shared" / "datasets" / "support-tickets-synthetic" / "tickets.csv.gz"  # beside the repo
LABEL_SETS = {
    "shipped": {"path": DATA, "text": ["Document"], "label": "Topic_group", "language": None},
    "synthetic-queue": {"path": SYNTHETIC, "text": ["subject", "body"], "label": "queue", "language": "en"},
    "synthetic-type": {"path": SYNTHETIC, "text": ["subject", "body"], "label": "type", "language": "en"},
}
TEST_FRACTION = 0.2
METRICS = ("accuracy", "macro_f1", "precision_at_2")
FINE_TUNE_KEYS = Path("fine_tune") / "train_keys.npy"  # written by training/fine_tune (texts it learned from)


def baseline(train_texts, train_y, test_texts, labels) -> np.ndarray:
    """TF-IDF (word 1-2 grams, sublinear tf) + LinearSVC: decision scores as ranking."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), LinearSVC(C=0.5))
    model.fit(train_texts, train_y)
    order = {c: i for i, c in enumerate(model.classes_)}
    scores = model.decision_function(test_texts)
    if scores.ndim == 1:  # two classes: one margin for classes_[1]
        scores = np.stack([-scores, scores], axis=1)
    return scores[:, [order[label] for label in labels]]


def parse_variant(spec: str) -> tuple[str, dict]:
    """``'NAME:section.key=value,section.key=value'`` → (NAME, nested overrides); values are YAML."""
    name, _, body = spec.partition(":")
    if not body:
        raise SystemExit(f"--variant {spec!r}: expected NAME:section.key=value[,…]")
    out: dict = {}
    for item in re.split(r",(?![^\[]*\])", body):  # commas inside [a, b] belong to the value
        key, _, value = item.partition("=")
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return name.strip(), out


def load_label_set(name: str, spec: dict, config, data_override: str | None) -> PreparedData:
    path = Path(data_override) if data_override and name == "shipped" else spec["path"]
    raw = pd.read_csv(path)
    if spec["language"]:
        raw = raw[raw["language"] == spec["language"]]
    cfg = config.replace(data={"path": str(path), "columns": {"text": spec["text"], "label": spec["label"]}})
    return prepare([raw], cfg, {}, progress=False)


def fine_tuned_keys(configs, embedder_dir) -> set[bytes]:
    """Texts any compared embedder was fine-tuned on: they never enter a test split."""
    keys: set[bytes] = set()
    for cfg in configs:
        path = Path(embedder_dir).expanduser() / cfg.embedder.name / FINE_TUNE_KEYS
        if needs_embedder(cfg.feature_blocks) and path.is_file():
            keys |= {bytes(k) for k in np.load(path)}
    return keys


def embedder_key(cfg) -> tuple:
    """Systems share an embedder only when it gives them the same vectors (model, variant and cut)."""
    e = cfg.embedder
    return e.name, e.variant, e.max_tokens, e.truncation


def neighbour_agreement(predictions, truth) -> dict[str, float]:
    """How often the closest neighbour shown as evidence has the true label (all / abstained tickets)."""
    rows = [(p, t) for p, t in zip(predictions, truth) if p.evidence and p.evidence.neighbours]
    hits = {"all": [p.evidence.neighbours[0].label == t for p, t in rows],
            "abstained": [p.evidence.neighbours[0].label == t for p, t in rows if p.needs_human]}
    return {k: float(np.mean(v)) if v else float("nan") for k, v in hits.items()}


EVERY_TICKET = ", every ticket embedded"  # the same version served without its lexical shortcut


def run_seed(frame, seed, systems, embedders, progress_line, every_ticket: bool = False) -> dict[str, dict]:
    labels = sorted(frame["label"].unique())
    y = np.array([labels.index(v) for v in frame["label"]])
    train_idx, test_idx = stratified_split(len(frame), y, TEST_FRACTION, seed)
    train_df, test_df = frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]
    test_texts, test_y = test_df["text"].tolist(), test_df["label"].tolist()
    results: dict[str, dict] = {}
    t = time.time()
    scores = baseline(train_df["text"].tolist(), train_df["label"].tolist(), test_texts, labels)
    results["baseline"] = compute_metrics(test_y, scores, labels, [False] * len(test_y))
    results["baseline"]["seconds"] = time.time() - t
    train_part = PreparedData(frame=train_df.reset_index(drop=True), rows_read=len(train_df))
    with tempfile.TemporaryDirectory() as registry:
        for name, cfg in systems.items():
            t = time.time()
            cfg = cfg.replace(seed=seed)
            embedder = embedders.get(embedder_key(cfg)) if needs_embedder(cfg.feature_blocks) else None
            outcome = train_version(cfg, registry, embedder=embedder, prepared=train_part, progress=False)
            predictor = Predictor.load(outcome.path, embedder=embedder, load_embedder=embedder is not None)
            proba = predictor.predict_proba(test_texts)
            nh = [d.needs_human for d in predictor.decide(proba)]
            results[name] = compute_metrics(test_y, proba, predictor.labels, nh)
            results[name]["seconds"] = time.time() - t
            if "knn" in cfg.feature_blocks:
                predictions = predictor.predict(test_texts)
                results[name]["evidence"] = neighbour_agreement(predictions, test_y)
                results[name]["shortcut_share"] = float(np.mean([not (p.evidence and p.evidence.neighbours)
                                                                 for p in predictions]))
            if every_ticket and predictor.shortcut is not None:
                full = Predictor.load(outcome.path, embedder=embedder, use_shortcut=False)
                proba = full.predict_proba(test_texts)
                results[name + EVERY_TICKET] = compute_metrics(test_y, proba, full.labels,
                                                               [d.needs_human for d in full.decide(proba)])
                results[name + EVERY_TICKET]["seconds"] = 0.0
    for name, m in results.items():
        progress_line(f"  seed {seed} {name}: accuracy {m['accuracy']:.4f} p@2 {m['precision_at_2']:.4f} "
                      f"({m['seconds']:.0f} s)")
    return {"n_train": len(train_df), "n_test": len(test_df), "systems": results}


def report(label_set: str, frame, runs: list[dict], systems: list[str], reference: str) -> list[str]:
    seeds = [r["seed"] for r in runs]
    lines = [f"### {label_set}: {len(frame)} tickets, {frame['label'].nunique()} categories, seeds {seeds} "
             f"(≈{runs[0]['n_train']} train / {runs[0]['n_test']} test each)", "",
             "| system | accuracy | macro-F1 | precision@2 | coverage / precision at thresholds | time per split |",
             "| --- | --- | --- | --- | --- | --- |"]
    names = ["baseline", *systems]
    for name in names:
        ms = [r["systems"][name] for r in runs]
        cov = ("1.000 / (no abstain)" if name == "baseline" else
               f"{np.mean([m['coverage'] for m in ms]):.3f} / "
               f"{np.mean([m['precision_when_not_abstained'] for m in ms]):.3f}")
        cells = " | ".join(mean_sd([m[k] for m in ms]) for k in METRICS)
        label = "TF-IDF + LinearSVC (baseline)" if name == "baseline" else name
        lines.append(f"| {label} | {cells} | {cov} | {np.mean([m['seconds'] for m in ms]):.0f} s |")
    for name in systems:
        skipped = [r["systems"][name]["shortcut_share"] for r in runs if "shortcut_share" in r["systems"][name]]
        if skipped and max(skipped) > 0:
            lines.append(f"\nLexical shortcut ({name}): {np.mean(skipped):.3f} of test tickets answered without "
                         f"the embedder (mean over seeds; those show no neighbours).")
        shares = [r["systems"][name]["evidence"] for r in runs if "evidence" in r["systems"][name]]
        if shares:
            lines.append(f"\nEvidence ({name}): the closest neighbour's label is the true label on "
                         f"{np.nanmean([e['all'] for e in shares]):.3f} of test tickets and "
                         f"{np.nanmean([e['abstained'] for e in shares]):.3f} of abstained ones (mean over seeds).")
    lines += ["", "| paired difference (95 % corrected resampled t) | accuracy | precision@2 | verdict (acc / p@2) |",
              "| --- | --- | --- | --- |"]
    pairs = [(name, "baseline") for name in systems] + [(name, reference) for name in systems if name != reference]
    for a, b in pairs:
        diffs = [paired_difference([r["systems"][a][k] for r in runs], [r["systems"][b][k] for r in runs],
                                   TEST_FRACTION) for k in ("accuracy", "precision_at_2")]
        lines.append(f"| {a} − {b} | {format_difference(diffs[0])} | {format_difference(diffs[1])} | "
                     f"{diffs[0].verdict} / {diffs[1].verdict} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="replace the shipped label set's file")
    ap.add_argument("--label-sets", default="shipped", help=f"comma-separated, or 'all': {', '.join(LABEL_SETS)}")
    ap.add_argument("--sample", type=int, help="stratified subset of each label set (quick runs)")
    ap.add_argument("--config", help="YAML training config for the project's model")
    ap.add_argument("--resample", action="store_true", help="also train with rebalancing on")
    ap.add_argument("--skip-e5-only", action="store_true")
    ap.add_argument("--seed", type=int, help="first split and model seed (default: the config's, 42)")
    ap.add_argument("--seeds", type=int, default=1, help="number of repeated splits (seed, seed+1, …)")
    ap.add_argument("--fixed-sample", action="store_true",
                    help="with --sample: one subset (the first seed's) split every way, so it is embedded once")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:key=value,…",
                    help="another system: the project's config with these overrides (repeatable)")
    ap.add_argument("--json-out", help="write every per-seed figure here")
    ap.add_argument("--every-ticket", action="store_true",
                    help="also serve each project version without its lexical shortcut (every ticket embedded)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.time()
    settings = Settings.from_env()
    config = load_config(args.config).replace(data={"test_fraction": 0.0})
    first = args.seed if args.seed is not None else config.seed
    seeds = list(range(first, first + args.seeds))
    names = list(LABEL_SETS) if args.label_sets == "all" else [s.strip() for s in args.label_sets.split(",")]
    systems = {"project (default)": config}
    if not args.skip_e5_only:
        systems["e5 + LightGBM alone"] = config.replace(feature_blocks=["embedding"])
    for spec in args.variant:
        name, overrides = parse_variant(spec)
        systems[name] = config.replace(**overrides)
    embedders = {embedder_key(cfg): open_embedder(cfg, settings.embedder_dir, progress=False)
                 for cfg in systems.values() if needs_embedder(cfg.feature_blocks)}
    exclude = fine_tuned_keys(systems.values(), settings.embedder_dir)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    out = [f"CPU: {describe_cpu()}", ""]
    raw: dict = {}
    for label_set in names:
        prepared = load_label_set(label_set, LABEL_SETS[label_set], config, args.data)
        pool = prepared.frame
        if exclude:  # tickets a compared embedder learned from are in no split, train or test
            pool = pool[[text_key(t) not in exclude for t in pool["text"]]].reset_index(drop=True)
        frames = {seed: stratified_sample(pool, args.sample, seeds[0] if args.fixed_sample else seed)
                  for seed in seeds}
        texts = list(dict.fromkeys(t for frame in frames.values() for t in frame["text"]))
        for embedder in embedders.values():
            embedder.embed(texts)  # fill the cache once, outside the timed runs
        runs, run_systems = [], dict(systems)
        if args.resample:
            counts = frames[seeds[0]]["label"].value_counts() * (1 - TEST_FRACTION)  # the training part
            cap, target = int(counts.max() * 0.6), int(counts.median())
            run_systems[f"project + resampling (cap {cap}, SMOTE to {target})"] = config.replace(
                resample={"undersample_cap": cap, "smote_target": target})
        for seed, frame in frames.items():
            say(f"{label_set}, seed {seed}:")
            runs.append({"seed": seed, **run_seed(frame, seed, run_systems, embedders, say, args.every_ticket)})
        names_run = [n for n in runs[0]["systems"] if n != "baseline" and all(n in r["systems"] for r in runs)]
        lines = report(label_set, frames[seeds[0]], runs, names_run, "project (default)")
        out += lines + [""]
        raw[label_set] = runs
        say("\n".join(lines))
    target = config.thresholds.target_precision
    out += [f"Thresholds: per class, chosen on a validation split of the training part for a target precision of "
            f"{target:.2f}; coverage = share of test tickets not flagged needs_human."
            + (f" The {len(exclude)} tickets a compared embedder was fine-tuned on are left out of the data."
               if exclude else ""),
            f"Wall time: {(time.time() - started) / 60:.1f} min."]
    print("\n".join(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(raw, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
