"""Scale-out benchmark: backlog throughput with 1, 2, 4… worker processes in one consumer group.

For each worker count N, on one broker: fresh topics with P partitions (P >= the largest N, since
a group gives each partition to one member), N ``python -m stream worker`` processes in one
consumer group (own HTTP ports and temp dirs; ONNX threads = cores // N, what a pod with that CPU
limit would get, or ``--worker-threads``), a wait until the group has settled (every worker owns
partitions, together all P, none twice: Tansu holds each join for half the session timeout), then
bench.stream's backlog phase: tickets/s, and CPU per ticket summed over the N workers.

    python -m bench.stream --scale-out 1,2,4 --tickets 1000 --model <version folder>
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.machine import describe_cpu
from bench.stream import REPO, _backlog, bench_env
from stream.config import Settings
from stream.devtools.broker import EmbeddedBroker, free_port
from stream.devtools.process import stop_process
from stream.kafka.topics import ensure_topics


def parse_counts(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]``: positive worker counts, each once, in the order given."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"worker counts must be integers separated by commas, not {text!r}") from None
    if not counts or any(n < 1 for n in counts) or len(set(counts)) != len(counts):
        raise ValueError(f"worker counts must be distinct positive integers, not {text!r}")
    return counts


def partitions_for(counts: list[int], requested: int | None = None) -> int:
    """Partitions of the raw topic: enough for the largest count to consume (default at least 4)."""
    partitions = requested or max(4, max(counts))
    if partitions < max(counts):
        raise ValueError(f"{partitions} partitions cannot feed {max(counts)} consumers of one group")
    return partitions


def threads_per_worker(cores: int, workers: int) -> int:
    """ONNX intra-op threads for each of ``workers`` processes sharing ``cores``: no oversubscription."""
    return max(1, cores // workers)


def settled(assignments: list[list[int] | None], partitions: int) -> bool:
    """Every worker owns partitions, none is owned twice, and together they cover all of them."""
    if any(not owned for owned in assignments):
        return False
    flat = [p for owned in assignments for p in owned]
    return len(flat) == len(set(flat)) and set(flat) == set(range(partitions))


def _readyz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _wait_settled(workers: list[subprocess.Popen], ports: list[int], partitions: int,
                  timeout_s: float = 240) -> list[dict]:
    """Poll /readyz until the group has settled twice in a row (a rebalance can still be on its way)."""
    deadline, streak = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker exited while joining the group; see its log")
        bodies = [_readyz(port) for port in ports]
        owned = [body.get("assigned_partitions") if body and body.get("ready") else None for body in bodies]
        streak = streak + 1 if settled(owned, partitions) else 0
        if streak >= 3:
            return bodies
        time.sleep(1.0)
    raise SystemExit(f"the group did not settle on {partitions} partitions in {timeout_s:.0f} s")


def _registry(settings: Settings, model: str | None) -> Path | None:
    """With ``--model``: a throw-away registry with that version folder linked in and promoted."""
    if not model:
        return None
    from stream.inference.registry import Registry

    source = Path(model).resolve()
    root = Path(tempfile.mkdtemp(prefix="bench-scale-registry-"))
    (root / source.name).symlink_to(source, target_is_directory=True)
    Registry(root, settings.embedder_dir).promote(source.name, reason="bench.stream --scale-out")
    return root


def _phase(args, bootstrap: str, external: bool, registry: Path | None, n: int, partitions: int) -> dict:
    """N workers in one group on fresh topics, settled, then the backlog phase."""
    suffix = uuid.uuid4().hex[:8]
    threads = args.worker_threads or threads_per_worker(os.cpu_count() or 1, n)
    base = {**bench_env(bootstrap, external, suffix), "TICKETS_TOPIC_PARTITIONS": str(partitions),
            "TICKETS_EMBED_THREADS": str(threads)}
    if registry is not None:
        base["TICKETS_REGISTRY_DIR"] = str(registry)
    settings = Settings.from_env({**os.environ, **base})
    asyncio.run(ensure_topics(settings.kafka))
    ports, workers, logs, tmpdirs = [], [], [], []
    try:
        for i in range(n):
            ports.append(free_port())
            tmpdirs.append(tempfile.mkdtemp(prefix=f"bench-scale-{suffix}-{i}-"))  # Faust's datadir per worker
            logs.append(Path(tempfile.gettempdir()) / f"bench-scale-worker-{suffix}-{i}.log")
            with open(logs[-1], "wb") as log:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "stream", "worker"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, **base, "TICKETS_WEB_PORT": str(ports[-1]), "TMPDIR": tmpdirs[-1]}))
        bodies = _wait_settled(workers, ports, partitions)
        result = asyncio.run(_backlog(args, settings, [w.pid for w in workers], prefix=f"w{n}"))
    finally:
        for worker in workers:
            stop_process(worker, 20)
        for folder in tmpdirs:
            shutil.rmtree(folder, ignore_errors=True)
    if not result["complete"]:
        print(f"WARNING: {n} workers: some tickets were not classified; logs: {', '.join(map(str, logs))}")
    return {**result, "threads": threads, "owned": [sorted(b["assigned_partitions"]) for b in bodies],
            "version": bodies[0].get("model_version"), "embedder": bodies[0].get("embedder_id")}


def run(args) -> int:
    counts = parse_counts(args.scale_out)
    partitions = partitions_for(counts, args.partitions)
    external = os.environ.get("TICKETS_KAFKA_BOOTSTRAP")
    broker = None if external else EmbeddedBroker().start()
    registry = _registry(Settings.from_env(), args.model)
    results = {}
    try:
        for n in counts:
            results[n] = _phase(args, external or broker.bootstrap, bool(external), registry, n, partitions)
    finally:
        if broker is not None:
            broker.stop()
        if registry is not None:
            shutil.rmtree(registry, ignore_errors=True)  # a link and the alias files: never the model
    load1, load5, _ = os.getloadavg()
    first = results[counts[0]]
    print()
    print(f"Scale-out benchmark — {describe_cpu()} (os.cpu_count() = {os.cpu_count()}); "
          f"model {first['version']}, embedder {first['embedder']}; {args.tickets} dataset tickets as a backlog "
          f"after {args.warmup} warm-up, raw topic with {partitions} partitions, one consumer group per row; "
          f"load average at the end {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    print()
    print(f"| workers | ONNX threads each | partitions per worker | throughput | vs {counts[0]} worker(s) "
          f"| CPU per ticket (all workers) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for n, result in results.items():
        owned = " / ".join(",".join(map(str, o)) for o in result["owned"])
        print(f"| {n} | {result['threads']} | {owned} | {result['throughput']:.1f} tickets/s "
              f"| {result['throughput'] / first['throughput']:.2f}x | {result['cpu_per_ticket'] * 1000:.1f} ms |")
    return 0 if all(r["complete"] for r in results.values()) else 1
