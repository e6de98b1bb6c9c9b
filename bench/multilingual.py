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

    .venv/bin/python bench/multilingual.py               # seed 42
    .venv/bin/python bench/multilingual.py --seed 7      # a second split
    .venv/bin/python bench/multilingual.py --variant "no route=route.yaml"   # an extra project row
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
sys.path.insert(0, str(ROOT))

from bench.machine import describe_cpu  # noqa: E402
from bench.quality import baseline  # noqa: E402
from stream.config import Settings  # noqa: E402
from stream.inference.predictor import Predictor  # noqa: E402
from training.config import load_config  # noqa: E402
from training.evaluate import compute_metrics  # noqa: E402
from training.split import stratified_split  # noqa: E402
from training.train import load_data, open_embedder  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "support-tickets-synthetic" / "tickets.csv.gz"
TEXT_COLS = ("subject", "body")   # the CLI assembles them as one ticket: subject, then the message
LABEL_COL = "queue"
SCENARIOS = (("a", "en", "en"), ("b", "en", "de"), ("c", "en+de", "en"), ("c", "en+de", "de"))


def _data_path(arg: str | None) -> Path:
    for path in ([Path(arg)] if arg else [DATA, Path("/work/shared/datasets/support-tickets-synthetic/tickets.csv.gz")]):
        if path.is_file():
            return path
    raise SystemExit(f"data not found: {arg or DATA} (see the dataset's README; it is not shipped with the repo)")


def cli_train(csv_path: Path, registry: Path, settings: dict, workdir: Path) -> Path:
    """Train one version through ``python -m training train``; returns its folder."""
    config_path = workdir / f"config-{len(list(workdir.glob('config-*.yaml')))}.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    cmd = [sys.executable, "-m", "training", "train", "--data", str(csv_path), "--label-col", LABEL_COL,
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the tickets file (default: {DATA})")
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
    app = Settings.from_env()
    base = {"seed": args.seed, "data": {"test_fraction": 0.0}, "lightgbm": {"num_threads": args.threads}}
    config = load_config().replace(data={"path": str(data), "columns": {"text": list(TEXT_COLS),
                                                                        "label": LABEL_COL}})
    # Rows assembled exactly as the CLI does; with no id column, ticket_id is the row's position in the file.
    prepared = load_data(config, progress=False)
    raw = pd.read_csv(data, usecols=[*TEXT_COLS, LABEL_COL, "language"], keep_default_na=False)
    if len(raw) != prepared.rows_read:
        raise SystemExit(f"read {len(raw)} rows but the training reader saw {prepared.rows_read}")
    frame = prepared.frame.assign(row=prepared.frame["ticket_id"].astype(int))
    frame["language"] = raw["language"].to_numpy()[frame["row"]]
    strata = pd.factorize(frame["language"] + "/" + frame["label"])[0]
    train_idx, test_idx = stratified_split(len(frame), strata, args.test_fraction, args.seed)
    train, test = frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]
    train_sets = {"en": train[train["language"] == "en"], "en+de": train}
    tests = {lang: test[test["language"] == lang] for lang in ("en", "de")}

    embedder = open_embedder(config, app.embedder_dir)
    embedder.embed(frame["text"].tolist())  # fill the cache once: the CLI runs below read it

    systems: list[tuple[str, dict | None]] = [("TF-IDF + LinearSVC", None), ("project (default)", {})]
    if not args.skip_e5_only:
        systems.append(("e5 + LightGBM alone", {"feature_blocks": ["embedding"]}))
    for spec in args.variant:
        name, _, path = spec.partition("=")
        systems.append((name, yaml.safe_load(Path(path).read_text()) or {}))

    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-multilingual-") as tmp:
        tmp = Path(tmp)
        for lang_set, rows in train_sets.items():
            csv_path = tmp / f"train-{lang_set}.csv"
            raw.iloc[rows["row"]][[*TEXT_COLS, LABEL_COL]].to_csv(csv_path, index=False)
            labels = sorted(rows["label"].unique())
            for name, overrides in systems:
                t = time.time()
                if overrides is None:
                    scorer = lambda texts: baseline(rows["text"].tolist(), rows["label"].tolist(), texts, labels)  # noqa: E731
                    score_labels = labels
                else:
                    folder = cli_train(csv_path, tmp / "registry", deep_merge(base, overrides), tmp)
                    predictor = Predictor.load(folder, embedder=embedder)
                    scorer, score_labels = predictor.predict_proba, predictor.labels
                for lang, part in tests.items():
                    m = compute_metrics(part["label"].tolist(), scorer(part["text"].tolist()), score_labels,
                                        [False] * len(part))
                    results.setdefault(name, {})[f"{lang_set}->{lang}"] = {
                        "accuracy": m["accuracy"], "precision_at_2": m["precision_at_2"], "n": m["n"]}
                seconds[name] = seconds.get(name, 0.0) + time.time() - t
                print(f"{name} trained on {lang_set}: {time.time() - t:.0f} s", file=sys.stderr, flush=True)

    names = [name for name, _ in systems]
    lines = [f"CPU: {describe_cpu()}",
             f"Data: {data.name} (synthetic, CC BY-NC 4.0), label `{LABEL_COL}`, text = subject + body; "
             f"stratified split by language × queue (seed {args.seed}, test {args.test_fraction:.0%}): "
             f"train {len(train_sets['en'])} en + {len(train) - len(train_sets['en'])} de, "
             f"test {len(tests['en'])} en + {len(tests['de'])} de; {frame['label'].nunique()} queues.", "",
             "| scenario | train → test | " + " | ".join(f"{n} acc / p@2" for n in names) + " |",
             "| --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for tag, lang_set, lang in SCENARIOS:
        key = f"{lang_set}->{lang}"
        cells = [f"{results[n][key]['accuracy']:.4f} / {results[n][key]['precision_at_2']:.4f}" for n in names]
        lines.append(f"| ({tag}) | {lang_set} → {lang} | " + " | ".join(cells) + " |")
    lines.append("| | training time, both train sets | " + " | ".join(f"{seconds[n]:.0f} s" for n in names) + " |")
    lines += ["", "Targets for each project row: (b) ≥ 0.85 × its (a) accuracy and ≥ TF-IDF (b) + 10 pt; "
                  "(c) ≥ TF-IDF in each language."]
    acc = {n: {k: v["accuracy"] for k, v in r.items()} for n, r in results.items()}
    tfidf = acc["TF-IDF + LinearSVC"]
    for name in names[1:]:
        a = acc[name]
        lines.append(f"- {name}: (b)/(a) {a['en->de'] / a['en->en']:.3f}, (b) − TF-IDF "
                     f"{100 * (a['en->de'] - tfidf['en->de']):+.1f} pt, (c) − TF-IDF en "
                     f"{100 * (a['en+de->en'] - tfidf['en+de->en']):+.1f} pt / de "
                     f"{100 * (a['en+de->de'] - tfidf['en+de->de']):+.1f} pt")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "results": results, "seconds": seconds},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
