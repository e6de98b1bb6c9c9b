"""Embedding throughput and memory: sentence-transformers (PyTorch fp32) vs ONNX fp32 vs ONNX int8 (two kinds).

Each engine runs in its own subprocess so its peak RSS (``ru_maxrss``) is its
own; all use the same tickets, prefix, max_tokens, batch size and threads.
Prints a markdown table; the CPU-seconds column is the process's user+system
time for the timed run, a check on wall-clock figures when the machine is shared. Usage::

    python -m bench.embedding --n 2000 --batch-size 32 --threads 2
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"
ENGINES = {
    "pytorch": "sentence-transformers (PyTorch fp32)",
    "fp32": "ONNX fp32",
    "int8": "ONNX int8",
    "int8-token": "ONNX int8, per-token scales",
}


def load_tickets(n: int) -> list[str]:
    import pandas as pd

    documents = pd.read_csv(DATA, usecols=["Document"])["Document"].dropna().astype(str)
    return documents.sample(n=min(n, len(documents)), random_state=0).tolist()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_engine(args) -> dict:
    """Worker: load one engine, warm it up, time ``embed`` over all tickets."""
    texts = load_tickets(args.n)
    folder = Path(args.embedder_dir).expanduser() / args.name
    if args.engine == "pytorch":
        import torch
        from sentence_transformers import SentenceTransformer

        if args.threads:
            torch.set_num_threads(args.threads)
        baseline = _rss_mib()
        model = SentenceTransformer(str(folder / "hf"), device="cpu")
        model.max_seq_length = args.max_tokens
        prefix = json.loads((folder / "manifest.json").read_text())["prefix"]

        def embed(batch):
            with torch.inference_mode():
                return model.encode([prefix + t for t in batch], batch_size=args.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True)
    else:
        from stream.inference.embedder import OnnxEmbedder

        baseline = _rss_mib()
        embedder = OnnxEmbedder.load(folder, variant=args.engine, max_tokens=args.max_tokens,
                                     threads=args.threads or None, provider="cpu")

        budget = {"max_batch_tokens": args.max_batch_tokens} if args.max_batch_tokens else {}

        def embed(batch):
            return embedder.embed(batch, batch_size=args.batch_size, **budget)

    embed(texts[: args.batch_size])  # warm-up: allocations, kernel selection
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    vectors = embed(texts)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    np.save(args.vectors, vectors.astype(np.float32))
    peak = _rss_mib()
    return {"engine": args.engine, "texts": len(texts), "seconds": seconds, "texts_per_s": len(texts) / seconds,
            "cpu_s_per_1k": 1000 * cpu / len(texts),
            "peak_rss_mib": peak, "rss_delta_mib": peak - baseline}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of tickets (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads for every engine (0: default)")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--max-batch-tokens", type=int, default=None,
                        help="ONNX engines: padded-token budget per batch (default: the embedder's)")
    parser.add_argument("--engines", default="pytorch,fp32,int8", help="comma-separated subset of "
                        + ",".join(ENGINES))
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds (order reversed every other round); the best round per engine is kept, "
                             "which filters out noise from other processes on a shared machine")
    parser.add_argument("--embedder-dir", default=None, help="default: TICKETS_EMBEDDER_DIR")
    parser.add_argument("--name", default="multilingual-e5-small")
    parser.add_argument("--engine", help=argparse.SUPPRESS)   # worker mode
    parser.add_argument("--vectors", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.embedder_dir is None:
        from stream.config import Settings

        args.embedder_dir = Settings.from_env().embedder_dir
    if args.engine:
        print(json.dumps(run_engine(args)))
        return 0

    engines = args.engines.split(",")
    for engine in engines:
        if engine not in ENGINES:
            parser.error(f"unknown engine {engine!r}")
    results, vectors = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.repeat):
            for engine in engines if round_no % 2 == 0 else engines[::-1]:
                out = Path(tmp) / f"{engine}.npy"
                cmd = [sys.executable, "-m", "bench.embedding", "--engine", engine, "--vectors", str(out), "--n", str(args.n),
                       "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                       "--max-tokens", str(args.max_tokens), "--embedder-dir", args.embedder_dir,
                       "--name", args.name]
                if args.max_batch_tokens:
                    cmd += ["--max-batch-tokens", str(args.max_batch_tokens)]
                print(f"round {round_no + 1}/{args.repeat}: {ENGINES[engine]} …", file=sys.stderr, flush=True)
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return done.returncode
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"  {result['texts_per_s']:.1f} texts/s", file=sys.stderr, flush=True)
                best = results.get(engine)
                if best is None or result["texts_per_s"] > best["texts_per_s"]:
                    results[engine] = result
                vectors[engine] = np.load(out)
    results = {engine: results[engine] for engine in engines}

    base = results.get("pytorch")
    from bench.machine import describe_cpu

    print(f"\n{describe_cpu()}; {args.n} tickets, batch size {args.batch_size}, max_tokens {args.max_tokens}, "
          f"max_batch_tokens {args.max_batch_tokens or 'default'}, "
          f"threads {args.threads or 'default'}, best of {args.repeat} round(s)\n")
    print("| engine | texts/s | vs PyTorch | CPU s / 1k texts | peak RSS (MiB) | RSS delta (MiB) "
          "| min cosine vs PyTorch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for engine, r in results.items():
        speedup = f"{r['texts_per_s'] / base['texts_per_s']:.2f}×" if base else "–"
        cosine = (f"{float(np.min(np.sum(vectors[engine] * vectors['pytorch'], axis=1))):.4f}"
                  if "pytorch" in vectors else "–")
        print(f"| {ENGINES[engine]} | {r['texts_per_s']:.1f} | {speedup} | {r['cpu_s_per_1k']:.0f} | "
              f"{r['peak_rss_mib']:.0f} | "
              f"{r['rss_delta_mib']:.0f} | {cosine} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
