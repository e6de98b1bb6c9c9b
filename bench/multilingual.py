"""Cross-lingual bench: does the model still work on a language it saw little or none of?

Data: the synthetic English + German support tickets in
``../shared/datasets/support-tickets-synthetic/`` (CC BY-NC 4.0, derived from Tobias Bueck's
"customer-support-tickets" on Hugging Face). The data is read from there and only temporary
copies of its rows are written (under a temp dir, deleted at the end), never into the repo.

One stratified split (by language × queue, ``--seed``) into train and test. Each system is
trained on (a/b) the English training rows only and (c) all training rows, and measured on the
English and the German test rows. The project's models are trained through the real CLI
(``python -m training train``) into a temporary registry and measured through the serving
``Predictor``; the baseline is the TF-IDF + LinearSVC of ``bench/quality.py``.
Each project row is also printed minus TF-IDF with a 95 % paired bootstrap interval over the
test tickets (one split of ~300–500 tickets cannot resolve a point or two).

    .venv/bin/python -m bench.multilingual                      # queue label, seed 42
    .venv/bin/python -m bench.multilingual --seed 7             # a second split
    .venv/bin/python -m bench.multilingual --label type         # 4 ticket types: the lexical block leads
    .venv/bin/python -m bench.multilingual --variant "no route=no-route.yaml"   # an extra project row
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_cpu
from bench.quality import baseline
from stream.config import Settings
from stream.inference.predictor import Predictor
from training.config import load_config
from training.evaluate import compute_metrics
from training.split import stratified_split
from training.train import load_data, open_embedder

DATA = Path("shared") / "datasets" / "support-tickets-synthetic" / "tickets.csv.gz"  # beside the repo (or above)
TEXT_COLS = ("subject", "body")   # the CLI assembles them as one ticket: subject, then the message
SCENARIOS = (("a", "en", "en"), ("b", "en", "de"), ("c", "en+de", "en"), ("c", "en+de", "de"),
             ("b'", "en", "de-text"), ("c'", "en+de", "de-text"))


def _data_path(arg: str | None) -> Path:
    for path in ([Path(arg)] if arg else [parent / DATA for parent in ROOT.parents]):
        if path.is_file():
            return path
    raise SystemExit(f"data not found: {arg or '../' + str(DATA)} (see the dataset's README; it is not in the repo)")


def german_text(texts: list[str]) -> np.ndarray | None:
    """Which texts read as German (py3langid restricted to en/de), or None without py3langid.

    About a quarter of the rows labelled ``de`` in this data are written in English; the
    ``de-text`` rows measure transfer on German text alone.
    """
    try:
        import py3langid
    except ImportError:
        return None
    py3langid.set_languages(["en", "de"])
    return np.array([py3langid.classify(text)[0] == "de" for text in texts])


def cli_train(csv_path: Path, label_col: str, registry: Path, settings: dict, workdir: Path) -> Path:
    """Train one version through ``python -m training train``; returns its folder."""
    config_path = workdir / f"config-{len(list(workdir.glob('config-*.yaml')))}.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    cmd = [sys.executable, "-m", "training", "train", "--data", str(csv_path), "--label-col", label_col,
           "--config", str(config_path), "--out", str(registry), "--no-progress"]
    for col in TEXT_COLS:
        cmd += ["--text-col", col]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"training failed ({' '.join(cmd)}):\n{out.stderr[-3000:]}")
    match = re.search(r"^version \S+ written to (.+?)(?: and promoted)?$", out.stdout, re.MULTILINE)
    if not match:
        raise SystemExit(f"unexpected output of the train command:\n{out.stdout}")
    return Path(match.group(1))


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def split(data: Path, label_col: str, test_fraction: float, seed: int):
    """(raw rows, train sets by language, test sets by language), texts assembled as the CLI does."""
    config = load_config().replace(data={"path": str(data), "columns": {"text": list(TEXT_COLS), "label": label_col}})
    prepared = load_data(config, progress=False)
    raw = pd.read_csv(data, usecols=[*TEXT_COLS, label_col, "language"], keep_default_na=False)
    if len(raw) != prepared.rows_read:
        raise SystemExit(f"read {len(raw)} rows but the training reader saw {prepared.rows_read}")
    # With no id column, the training reader's ticket_id is the row's position in the file.
    frame = prepared.frame.assign(row=prepared.frame["ticket_id"].astype(int))
    frame["language"] = raw["language"].to_numpy()[frame["row"]]
    strata = pd.factorize(frame["language"] + "/" + frame["label"])[0]
    train_idx, test_idx = stratified_split(len(frame), strata, test_fraction, seed)
    train, test = frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]
    tests = {lang: test[test["language"] == lang] for lang in ("en", "de")}
    is_german = german_text(tests["de"]["text"].tolist())
    if is_german is not None:
        tests["de-text"] = tests["de"][is_german]
    return raw, {"en": train[train["language"] == "en"], "en+de": train}, tests, config


def run(systems, raw, label_col, train_sets, tests, base, embedder):
    """Train every system on each train set and score it on each test set: (results, seconds)."""
    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-multilingual-") as tmp:
        tmp = Path(tmp)
        for lang_set, rows in train_sets.items():
            csv_path = tmp / f"train-{lang_set}.csv"  # raw columns of the data, deleted with the temp dir
            raw.iloc[rows["row"]][[*TEXT_COLS, label_col]].to_csv(csv_path, index=False)
            labels = sorted(rows["label"].unique())
            for name, overrides in systems:
                t = time.time()
                if overrides is None:
                    def scorer(texts, rows=rows, labels=labels):
                        return baseline(rows["text"].tolist(), rows["label"].tolist(), texts, labels)
                    score_labels = labels
                else:
                    folder = cli_train(csv_path, label_col, tmp / "registry", deep_merge(base, overrides), tmp)
                    predictor = Predictor.load(folder, embedder=embedder)
                    scorer, score_labels = predictor.predict_proba, predictor.labels
                for lang, part in tests.items():
                    proba = scorer(part["text"].tolist())
                    m = compute_metrics(part["label"].tolist(), proba, score_labels, [False] * len(part))
                    correct = np.asarray(score_labels)[proba.argmax(axis=1)] == part["label"].to_numpy()
                    results.setdefault(name, {})[f"{lang_set}->{lang}"] = {
                        "accuracy": m["accuracy"], "precision_at_2": m["precision_at_2"], "n": m["n"],
                        "correct": correct.astype(int).tolist()}
                seconds[name] = seconds.get(name, 0.0) + time.time() - t
                print(f"{name} trained on {lang_set}: {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    return results, seconds


def paired_bootstrap(correct_a, correct_b, n_boot: int = 5000, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of b minus a on the same tickets, in points, with a 95 % paired bootstrap interval."""
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    diffs = 100 * (b[idx].mean(axis=1) - a[idx].mean(axis=1))
    return 100 * (b.mean() - a.mean()), float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def report(results: dict, seconds: dict, header: list[str]) -> list[str]:
    names = list(results)
    lines = header + ["", "| scenario | train → test | " + " | ".join(f"{n} acc / p@2" for n in names) + " |",
                      "| --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for tag, lang_set, lang in SCENARIOS:
        key = f"{lang_set}->{lang}"
        if key in results[names[0]]:
            cells = [f"{results[n][key]['accuracy']:.4f} / {results[n][key]['precision_at_2']:.4f}" for n in names]
            lines.append(f"| ({tag}) | {lang_set} → {lang} (n={results[names[0]][key]['n']}) | "
                         + " | ".join(cells) + " |")
    lines.append("| | training time, both train sets | " + " | ".join(f"{seconds[n]:.0f} s" for n in names) + " |")
    lines += ["", "Targets for each project row: (b) ≥ 0.85 × its (a) accuracy and ≥ TF-IDF (b) + 10 pt; "
                  "(c) ≥ TF-IDF in each language."]
    acc = {n: {k: v["accuracy"] for k, v in r.items()} for n, r in results.items()}
    tfidf = acc[names[0]]
    for name in names[1:]:
        a = acc[name]
        line = (f"- {name}: (b)/(a) {a['en->de'] / a['en->en']:.3f}, (b) − TF-IDF "
                f"{100 * (a['en->de'] - tfidf['en->de']):+.1f} pt, (c) − TF-IDF en "
                f"{100 * (a['en+de->en'] - tfidf['en+de->en']):+.1f} pt / de "
                f"{100 * (a['en+de->de'] - tfidf['en+de->de']):+.1f} pt")
        if "en->de-text" in a:
            line += (f"; German text only: (b')/(a) {a['en->de-text'] / a['en->en']:.3f}, (b') − TF-IDF "
                     f"{100 * (a['en->de-text'] - tfidf['en->de-text']):+.1f} pt")
        lines.append(line)
        cis = []
        for key in ("en->de", "en+de->en", "en+de->de"):
            diff, lo, hi = paired_bootstrap(results[names[0]][key]["correct"], results[name][key]["correct"])
            cis.append(f"{key} {diff:+.1f} pt [{lo:+.1f}, {hi:+.1f}]")
        lines.append(f"  {name} − TF-IDF, 95 % paired bootstrap over tickets: " + "; ".join(cis))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the tickets file (default: {DATA})")
    ap.add_argument("--label", default="queue", choices=["queue", "type"],
                    help="label column: the 10 queues (noisy) or the 4 ticket types (the lexical block leads)")
    ap.add_argument("--seed", type=int, default=42, help="split and model seed")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=1, help="LightGBM threads (1 on a busy shared machine)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=YAML",
                    help="an extra project row: training config overrides from a YAML file; repeatable")
    ap.add_argument("--skip-e5-only", action="store_true")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data = _data_path(args.data)
    raw, train_sets, tests, config = split(data, args.label, args.test_fraction, args.seed)
    embedder = open_embedder(config, Settings.from_env().embedder_dir)
    embedder.embed(pd.concat([train_sets["en+de"], *tests.values()])["text"].tolist())  # the CLI runs read the cache

    systems: list[tuple[str, dict | None]] = [("TF-IDF + LinearSVC", None), ("project (default)", {})]
    if not args.skip_e5_only:
        systems.append(("e5 + LightGBM alone", {"feature_blocks": ["embedding"]}))
    for spec in args.variant:
        name, _, path = spec.partition("=")
        systems.append((name, yaml.safe_load(Path(path).read_text()) or {}))
    base = {"seed": args.seed, "data": {"test_fraction": 0.0}, "lightgbm": {"num_threads": args.threads}}
    results, seconds = run(systems, raw, args.label, train_sets, tests, base, embedder)

    n_de_train = len(train_sets["en+de"]) - len(train_sets["en"])
    header = [f"CPU: {describe_cpu()}",
              f"Data: {data.name} (synthetic, CC BY-NC 4.0), label `{args.label}` "
              f"({train_sets['en+de']['label'].nunique()} classes), text = subject + body; stratified split by "
              f"language × label (seed {args.seed}, test {args.test_fraction:.0%}): train {len(train_sets['en'])} "
              f"en + {n_de_train} de, test {len(tests['en'])} en + {len(tests['de'])} de."]
    if "de-text" in tests:
        header.append(f"`de-text`: the `de` test rows that py3langid reads as German ({len(tests['de-text'])} of "
                      f"{len(tests['de'])}; the others are written in English).")
    print("\n".join(report(results, seconds, header)))
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "label": args.label, "results": results,
                                               "seconds": seconds}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
