"""``python -m training embed``: fill the embeddings cache ahead of ``train``, optionally as one of N shards.

Training embeds what the cache lacks anyway; this command exists so the slow
pass can run first, elsewhere and in parallel: N processes (or N Kubernetes Job
completions) run ``--shard i/N`` against one shared cache folder, each embedding
the texts whose cache key falls in its shard (training/embed.py ``in_shard``).
Shard files are named by their content and written atomically, so writers never
collide and an interrupted shard resumes where it stopped.
"""
from __future__ import annotations

import resource
import sys
import time


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _embed(args) -> int:
    from .commands import _config_from_args, _settings_with_languages
    from .embed import in_shard, parse_shard, text_key
    from .exceptions import TrainingError
    from .train import load_data, open_embedder, stratified_sample

    settings = _settings_with_languages()
    try:
        index, count = parse_shard(args.shard)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        config = _config_from_args(args)
        prepared = load_data(config, progress=not args.no_progress)
        frame = stratified_sample(prepared.frame, config.data.sample, config.seed)
        texts = [t for t in frame["text"] if in_shard(text_key(t), index, count)]
        embedder = open_embedder(config, args.embedder_dir or settings.embedder_dir, not args.no_progress)
        if embedder is None:
            print("error: the configured feature blocks use no embedder", file=sys.stderr)
            return 2
        new = len(embedder.cache.missing(list(dict.fromkeys(text_key(t) for t in texts))))
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        embedder.embed(texts)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = (f"{new / seconds:,.1f} texts/s, {1000 * cpu / new:,.1f} ms CPU per text" if new and seconds > 0
            else "nothing new to embed")
    print(f"shard {index}/{count}: {len(texts):,} texts, {new:,} embedded in {seconds:,.1f} s ({rate}); "
          f"cache {embedder.cache.dir}")
    return 0


def register(subparsers) -> None:
    from .commands import _add_columns

    p = subparsers.add_parser("embed", help="embed a data set into the embeddings cache (optionally one shard of N)")
    p.add_argument("--data", help="CSV / CSV.gz / Parquet file (or set data.source: snowflake in --config)")
    p.add_argument("--config", help="YAML training config (columns, embedder, cache dir)")
    p.add_argument("--shard", default="0/1", metavar="i/N",
                   help="embed only shard i of N (texts split by cache key); default 0/1, everything")
    p.add_argument("--embedder", metavar="NAME", help="embedder name (default: from config)")
    _add_columns(p)
    p.set_defaults(handler=_embed)
