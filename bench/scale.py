"""A large labelled ticket set for cost measurements, built from the shipped data.

Each new ticket is made of word runs ("sentences": the shipped text has no
punctuation) of 2–3 shipped tickets of the same category, kept in order, so
texts are distinct, category-consistent and of the shipped category mix, a
little longer than shipped tickets (2–3 sources, about half of each):
realistic enough for what training *costs*, not for what it *learns* (the
vocabulary of the set is the shipped one). Deterministic for a seed.

    .venv/bin/python -m bench.scale --rows 500000                    # → ~/.cache/ticket-classifier/scale/
    .venv/bin/python -m bench.scale --rows 100000 --out scale.parquet

``--prefill-cache DIR`` is a cost shortcut for benchmarks only: it writes the
embedding cache for the set into DIR (never the default cache) *without*
running the embedder — a composed ticket's vector is the normalised mean of its
source tickets' cached vectors. Training then reads the cache as if the
embedding pass had run; every later step costs the same whatever the vectors
hold. The embedding step itself is measured separately (docs/training.md, "Scale").
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"
TEXT, LABEL = "Document", "Topic_group"
DEFAULT_DIR = Path("~/.cache/ticket-classifier/scale").expanduser()


def _runs(words: list[str], rng: np.random.Generator) -> list[list[str]]:
    """The ticket's words cut into consecutive runs of 4–12 words."""
    runs, start = [], 0
    while start < len(words):
        size = int(rng.integers(4, 13))
        runs.append(words[start:start + size])
        start += size
    return runs


def compose(texts: list[str], labels: list[str], rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` new tickets (``Document``, ``Topic_group``, ``sources``), the label mix of ``labels``.

    ``sources`` lists the positions in ``texts`` a ticket was composed from. No text repeats
    another composed text or one of ``texts``.
    """
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels, dtype=object)
    by_label = {label: np.flatnonzero(labels_arr == label) for label in sorted(set(labels))}
    names = list(by_label)
    shares = np.array([len(by_label[n]) for n in names], dtype=float)
    shares /= shares.sum()
    seen = {hashlib.blake2b(t.encode(), digest_size=12).digest() for t in texts}
    out_text, out_label, out_sources = [], [], []
    while len(out_text) < rows:
        label = names[int(rng.choice(len(names), p=shares))]
        pool = by_label[label]
        picks = rng.choice(pool, size=min(len(pool), int(rng.integers(2, 4))), replace=False)
        parts: list[str] = []
        for src in picks:
            runs = _runs(texts[src].split(), rng)
            chosen = [r for r in runs if rng.random() < 0.5] or [runs[int(rng.integers(len(runs)))]]
            parts.extend(" ".join(r) for r in chosen)
        text = " ".join(parts)
        key = hashlib.blake2b(text.encode(), digest_size=12).digest()
        if not text or key in seen:
            continue
        seen.add(key)
        out_text.append(text)
        out_label.append(label)
        out_sources.append(" ".join(str(int(s)) for s in sorted(picks)))
    return pd.DataFrame({TEXT: out_text, LABEL: out_label, "sources": out_sources})


def read_source(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame[[TEXT, LABEL]]


def prefill_cache(scale_path: Path, source_path: Path, cache_dir: Path, embedder_dir, config_path=None) -> int:
    """Write mean-of-sources vectors for every text of the scale set into ``cache_dir`` (cost shortcut)."""
    from stream.config import Settings
    from training.config import load_config
    from training.embed import SHARD_ROWS, text_key
    from training.sources import LocalFileSource
    from training.prepare import prepare
    from training.train import open_embedder

    config = load_config(config_path)
    source_cached = open_embedder(config, embedder_dir or Settings.from_env().embedder_dir, progress=False)
    config = config.replace(embedder={"cache_dir": str(cache_dir)})
    target = open_embedder(config, embedder_dir or Settings.from_env().embedder_dir, progress=False).cache
    source = prepare(LocalFileSource(source_path).batches(), config, progress=False).frame
    missing = source_cached.cache.missing([text_key(t) for t in source["text"]])
    if missing:
        raise SystemExit(f"{len(missing)} shipped tickets are not in the embedding cache "
                         f"({source_cached.cache.dir}); run `python -m training embed --data {source_path}` first")
    vectors = source_cached.cache.get([text_key(t) for t in source["text"]])
    row_of = {int(tid): i for i, tid in enumerate(source["ticket_id"])}  # source row → vector row
    scale = prepare(LocalFileSource(scale_path).batches(), config, progress=False).frame
    sources = pd.read_parquet(scale_path, columns=["sources"])["sources"].tolist() if str(scale_path).endswith(
        ".parquet") else pd.read_csv(scale_path, usecols=["sources"], dtype=str)["sources"].tolist()
    keys, rows = [], []
    for tid, text in zip(scale["ticket_id"], scale["text"]):
        picks = [row_of[int(s)] for s in sources[int(tid)].split() if int(s) in row_of]
        if not picks:
            continue
        mean = vectors[picks].mean(axis=0)
        keys.append(text_key(text))
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        if len(keys) == SHARD_ROWS:
            target.put(keys, np.stack(rows))
            keys, rows = [], []
    if keys:
        target.put(keys, np.stack(rows))
    return len(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="tickets to compose")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="labelled source (Document, Topic_group)")
    parser.add_argument("--out", type=Path, help="parquet or csv.gz (default ~/.cache/ticket-classifier/scale/)")
    parser.add_argument("--prefill-cache", type=Path, metavar="DIR",
                        help="cost shortcut: write mean-of-sources vectors for the set into this cache dir")
    parser.add_argument("--embedder-dir", help="built embedders (default: TICKETS_EMBEDDER_DIR)")
    parser.add_argument("--config", help="training YAML (embedder settings) for --prefill-cache")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be positive")
    out = args.out or DEFAULT_DIR / f"tickets-{args.rows}-s{args.seed}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    source = read_source(args.data)
    frame = compose(source[TEXT].tolist(), source[LABEL].tolist(), args.rows, args.seed)
    if str(out).endswith(".parquet"):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    print(f"{len(frame):,} tickets → {out}")
    if args.prefill_cache:
        if args.data != DATA and args.config is None:
            print("note: --prefill-cache reads the shipped tickets' vectors from the default cache")
        n = prefill_cache(out, args.data, args.prefill_cache, args.embedder_dir, args.config)
        print(f"cache {args.prefill_cache}: {n:,} vectors (mean of source vectors: a cost shortcut)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
