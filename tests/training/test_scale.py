"""bench.scale: the composed set is deterministic, distinct and keeps each ticket's category;
its cost-shortcut cache holds the normalised mean of the sources' vectors; ``training embed --shard``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench import scale
from training.embed import in_shard, parse_shard, text_key

SOURCE = pd.read_csv(scale.DATA, dtype=str, keep_default_na=False, nrows=400)


def test_same_seed_same_set_other_seed_other_set():
    texts, labels = SOURCE[scale.TEXT].tolist(), SOURCE[scale.LABEL].tolist()
    a = scale.compose(texts, labels, 300, seed=3)
    assert a.equals(scale.compose(texts, labels, 300, seed=3))
    assert not a[scale.TEXT].equals(scale.compose(texts, labels, 300, seed=4)[scale.TEXT])


def test_texts_are_distinct_new_and_made_of_same_label_tickets():
    texts, labels = SOURCE[scale.TEXT].tolist(), SOURCE[scale.LABEL].tolist()
    frame = scale.compose(texts, labels, 2000, seed=0)
    assert len(frame) == 2000 and frame[scale.TEXT].is_unique
    assert not set(frame[scale.TEXT]) & set(texts)
    for text, label, sources in zip(frame[scale.TEXT], frame[scale.LABEL], frame["sources"]):
        picks = [int(s) for s in sources.split()]
        assert 2 <= len(picks) <= 3 and {labels[p] for p in picks} == {label}
        words = {w for p in picks for w in texts[p].split()}
        assert set(text.split()) <= words  # nothing but the sources' words
    # The category mix follows the source's (within sampling noise).
    source_share = SOURCE[scale.LABEL].value_counts(normalize=True)
    share = frame[scale.LABEL].value_counts(normalize=True)
    assert (share.reindex(source_share.index).fillna(0) - source_share).abs().max() < 0.05


def test_cli_writes_a_file_training_reads(tmp_path, capsys):
    from training.sources import LocalFileSource

    out = tmp_path / "scale.parquet"
    assert scale.main(["--rows", "150", "--out", str(out)]) == 0
    read = pd.concat(LocalFileSource(out).batches())
    assert len(read) == 150 and {scale.TEXT, scale.LABEL, "sources"} <= set(read.columns)
    assert "150 tickets" in capsys.readouterr().out


def test_prefilled_cache_holds_the_mean_of_the_sources(tmp_path, e5_embedders_root):
    from training.config import load_config
    from training.prepare import prepare
    from training.sources import LocalFileSource
    from training.train import open_embedder

    source = tmp_path / "source.csv"
    SOURCE.head(60).to_csv(source, index=False)
    config_path = tmp_path / "train.yaml"
    config_path.write_text(f"embedder: {{cache_dir: {tmp_path / 'source-cache'}, max_tokens: 64}}\n")
    config = load_config(config_path)
    source_cache = open_embedder(config, e5_embedders_root, progress=False)
    cleaned = prepare(LocalFileSource(source).batches(), config, progress=False).frame  # what training keys on
    source_cache.embed(cleaned["text"].tolist())
    frame = scale.compose(SOURCE[scale.TEXT].head(60).tolist(), SOURCE[scale.LABEL].head(60).tolist(), 40)
    scale_path = tmp_path / "scale.parquet"
    frame.to_parquet(scale_path, index=False)
    n = scale.prefill_cache(scale_path, source, tmp_path / "scale-cache", e5_embedders_root, config_path)
    assert n == 40
    target = open_embedder(config.replace(embedder={"cache_dir": str(tmp_path / "scale-cache")}),
                           e5_embedders_root, progress=False).cache
    vector_of = dict(zip(cleaned["ticket_id"].astype(int), source_cache.cache.get(
        [text_key(t) for t in cleaned["text"]])))
    composed = prepare(LocalFileSource(scale_path).batches(), config, progress=False).frame
    for tid, text in zip(composed["ticket_id"][:5], composed["text"][:5]):
        mean = np.mean([vector_of[int(s)] for s in frame["sources"][int(tid)].split()], axis=0)
        got = target.get([text_key(text)])[0]
        np.testing.assert_allclose(got, mean / np.linalg.norm(mean), atol=2e-3)  # float16 in the cache


def test_shards_split_every_text_exactly_once():
    keys = [text_key(f"ticket {i}") for i in range(500)]
    owners = [[i for i in range(4) if in_shard(k, i, 4)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    assert all(60 < sum(o == [i] for o in owners) < 190 for i in range(4))  # roughly even
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "x", "1/0", "-1/3"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_embed_cli_shards_fill_one_cache(tmp_path, e5_embedders_root, capsys):
    from training.cli import main
    from training.config import load_config
    from training.train import open_embedder

    data = tmp_path / "tickets.csv"
    SOURCE.head(30).to_csv(data, index=False)
    config_path = tmp_path / "train.yaml"
    config_path.write_text(f"embedder: {{cache_dir: {tmp_path / 'cache'}, max_tokens: 64}}\n")
    base = ["embed", "--data", str(data), "--config", str(config_path), "--embedder-dir", str(e5_embedders_root),
            "--no-progress"]
    assert main(base + ["--shard", "0/2"]) == 0
    first = capsys.readouterr().out
    cache = open_embedder(load_config(config_path), e5_embedders_root, progress=False).cache
    keys = [text_key(t) for t in SOURCE[scale.TEXT].head(30)]
    assert len(cache) == sum(in_shard(k, 0, 2) for k in keys) and "shard 0/2" in first
    assert main(base + ["--shard", "1/2"]) == 0 and "texts/s" in capsys.readouterr().out
    cache = open_embedder(load_config(config_path), e5_embedders_root, progress=False).cache
    assert cache.missing(keys) == []
    assert main(base + ["--shard", "2/2"]) == 2 and "0 <= i < N" in capsys.readouterr().err
