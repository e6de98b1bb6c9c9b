"""Cross-lingual transfer of an embedding space: kNN accuracy of German tickets against English ones.

An embedder fine-tuned on English labels must not lose what multilingual-e5 gives for free:
German tickets finding their English neighbours. For each embedder, the English tickets of
/work/shared/datasets/support-tickets-synthetic (CC BY-NC 4.0: read in place, never copied)
are the reference set and the German ones the queries (en→de), next to English queries
against the other English tickets (en→en, leave-one-out). Similarity-weighted k-NN vote,
k 10, weight exp(10 · (cos − 1)), as the knn block does.

    .venv/bin/python -m bench.transfer --embedders multilingual-e5-small,e5-it-supcon --label queue
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_cpu
from stream.config import Settings
from training.config import load_config
from training.prepare import prepare
from training.train import open_embedder

SYNTHETIC = ROOT.parent / "shared" / "datasets" / "support-tickets-synthetic" / "tickets.csv.gz"  # beside the repo


def knn_vote(ref: np.ndarray, ref_y: np.ndarray, query: np.ndarray, n_labels: int, k: int = 10,
             leave_one_out: bool = False) -> np.ndarray:
    sim = query @ ref.T
    if leave_one_out:
        np.fill_diagonal(sim, -np.inf)
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    rows = np.arange(len(query))[:, None]
    votes = np.zeros((len(query), n_labels))
    np.add.at(votes, (np.repeat(rows, k, axis=1), ref_y[top]), np.exp(10 * (sim[rows, top] - 1)))
    return votes.argmax(axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedders", default="multilingual-e5-small", help="comma-separated embedder names")
    ap.add_argument("--label", default="queue", choices=["queue", "type"])
    args = ap.parse_args(argv)
    raw = pd.read_csv(SYNTHETIC)
    config = load_config().replace(data={"path": str(SYNTHETIC),
                                         "columns": {"text": ["subject", "body"], "label": args.label}})
    parts = {lang: prepare([raw[raw["language"] == lang]], config, {}, progress=False).frame for lang in ("en", "de")}
    labels = sorted(set(parts["en"]["label"]))
    y = {lang: np.array([labels.index(v) if v in labels else -1 for v in f["label"]]) for lang, f in parts.items()}
    settings = Settings.from_env()
    print(f"CPU: {describe_cpu()}\n")
    print(f"{len(parts['en'])} English reference tickets, {len(parts['de'])} German queries, {args.label} "
          f"({len(labels)} labels), k-NN k 10\n")
    print("| embedder | en→en kNN accuracy (leave-one-out) | en→de kNN accuracy |\n| --- | --- | --- |")
    for name in args.embedders.split(","):
        embedder = open_embedder(config.replace(embedder={"name": name.strip()}), settings.embedder_dir, progress=False)
        en, de = (embedder.embed(parts[lang]["text"].tolist()) for lang in ("en", "de"))
        en_en = (knn_vote(en, y["en"], en, len(labels), leave_one_out=True) == y["en"]).mean()
        en_de = (knn_vote(en, y["en"], de, len(labels)) == y["de"]).mean()
        print(f"| {name} | {en_en:.4f} | {en_de:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
