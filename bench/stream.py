"""Stream benchmark: sustained throughput and end-to-end latency through a real broker.

Starts the embedded Tansu broker (or uses TICKETS_KAFKA_BOOTSTRAP) and one
``python -m stream worker`` subprocess with the promoted model, then

1. throughput: publishes a backlog of real dataset tickets at once and measures
   tickets/s from the first publish to the last ClassifiedEvent seen;
2. latency: offers tickets at a fixed rate for a while and measures, per
   ticket, ``created_at`` (set at publish) → ClassifiedEvent received by a
   consumer on ``tickets.classified`` (so publish, queueing, batching,
   inference and delivery all count).

Prints a markdown table, and the worker's CPU per ticket by stage (read from its
``tickets_stage_cpu_seconds_total`` counter). Targets: >= 80 tickets/s sustained;
p99 < 1 s at 40/s. ``bench/stages.py`` profiles the stages of several
configurations side by side without Kafka.

    python -m bench.stream                      # promoted model in TICKETS_REGISTRY_DIR
    python -m bench.stream --tickets 3000 --rate 40 --duration 60
    python -m bench.stream --evidence-cost 2000  # only: CPU per ticket of the evidence step, in-process
    python -m bench.stream --shadow --tickets 1000  # only: backlog throughput, champion alone vs shadow mode
    python -m bench.stream --scale-out 1,2,4 --tickets 1000  # only: backlog throughput, N workers in one group

``--shadow`` runs the backlog phase twice in one run, each on a fresh worker and
its own topics: once with the champion alone (``TICKETS_CHALLENGER_MODE=off``)
and once in shadow mode with a challenger that is a copy of the champion under
another version id (so the same embedder, computed once, and a second booster
and cheap blocks: what a retrained challenger costs). Target: shadow keeps
>= 85% of the single-model throughput.
"""
from __future__ import annotations

import argparse
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
from datetime import datetime
from pathlib import Path

import numpy as np

from stream.devtools.broker import EmbeddedBroker, free_port
from stream.devtools.process import stop_process
from stream.config import Settings
from stream.inference.stages import STAGES
from stream.kafka.client import aiokafka_client_config
from stream.devtools.replay import Rows, load_rows, replay, ticket_event
from stream.inference.clean import assemble_ticket_text
from stream.kafka.topics import ensure_topics

from bench.machine import describe_cpu

REPO = Path(__file__).resolve().parents[1]

DATA = REPO / "data" / "it-service-tickets" / "tickets.csv.gz"


class ClassifiedWatcher:
    """Reads tickets.classified from the start and notes when each ticket id first arrives."""

    def __init__(self, settings: Settings, topic: str):
        self.settings, self.topic = settings, topic
        self.arrivals: dict[str, tuple[float, dict]] = {}
        self._task = None
        self._stop = asyncio.Event()

    async def start(self):
        from aiokafka import AIOKafkaConsumer, TopicPartition

        # A short fetch wait: Tansu holds fetches for the whole wait (aiokafka's default
        # 500 ms would add ~250 ms to every measured latency).
        self.consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                         fetch_max_wait_ms=20,
                                         **aiokafka_client_config(self.settings.kafka, client_id="bench-watcher"))
        await self.consumer.start()
        partitions = None
        while not partitions:
            await self.consumer._client.force_metadata_update()  # noqa: SLF001 - a topic made moments ago
            partitions = self.consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self):
        while not self._stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.time()
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    self.arrivals.setdefault(event["ticket_id"], (now, event))

    async def wait_for(self, ids: set[str], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ids <= self.arrivals.keys():
                return True
            await asyncio.sleep(0.05)
        return False

    async def stop(self):
        self._stop.set()
        if self._task:
            await self._task
        await self.consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc: contention-independent work."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stage_seconds(metrics_url: str) -> dict[str, float]:
    """The worker's ``tickets_stage_cpu_seconds_total`` per stage, read from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode("utf-8")
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name == "tickets_stage_cpu_seconds":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["stage"]] = sample.value
    return out


def _created(event) -> float:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00")).timestamp()


def classifiable(rows: Rows) -> Rows:
    """The rows the worker will classify. A text that cleans to nothing is dead-lettered (``empty_text``)
    and never reaches the classified topic, where the bench waits for every ticket it sent."""
    keep = [k for k, (i, text) in enumerate(zip(rows.indices, rows.texts))
            if assemble_ticket_text(ticket_event(i, text, "check")).strip()]
    if len(keep) < len(rows):
        print(f"note: {len(rows) - len(keep)} row(s) clean to an empty text (dead-lettered by the worker): "
              f"left out", file=sys.stderr)
    return Rows([rows.indices[k] for k in keep], [rows.texts[k] for k in keep], [rows.labels[k] for k in keep])


def _pick(rows: Rows, start: int, n: int) -> Rows:
    sl = slice(start, start + n)
    return Rows(rows.indices[sl], rows.texts[sl], rows.labels[sl])


async def _bench(args, settings: Settings, worker_pid: int, metrics_url: str) -> dict:
    rows = classifiable(load_rows(args.data, text_col=args.text_col, limit=args.warmup + args.tickets
                                  + int(args.rate * args.duration) + 100))
    watcher = ClassifiedWatcher(settings, settings.kafka.topic_classified)
    await watcher.start()
    try:
        # Warm-up: first batches pay for lazy initialisation in onnxruntime.
        warm = _pick(rows, 0, args.warmup)
        await replay(settings, warm, rate=0, id_prefix="warm", progress=False)
        await watcher.wait_for({f"warm-{i:07d}" for i in warm.indices}, 300)

        backlog = _pick(rows, args.warmup, args.tickets)
        cpu_before, stages_before = cpu_seconds(worker_pid), stage_seconds(metrics_url)
        started = time.time()
        await replay(settings, backlog, rate=0, id_prefix="tput", progress=not args.no_progress)
        ids = {f"tput-{i:07d}" for i in backlog.indices}
        complete = await watcher.wait_for(ids, args.timeout)
        done = max(watcher.arrivals[i][0] for i in ids if i in watcher.arrivals)
        throughput = sum(i in watcher.arrivals for i in ids) / (done - started)
        cpu_per_ticket = (cpu_seconds(worker_pid) - cpu_before) / len(ids)
        stages_after = stage_seconds(metrics_url)
        stages = {name: (stages_after[name] - stages_before.get(name, 0.0)) / len(ids) for name in stages_after}

        offered = _pick(rows, args.warmup + args.tickets, int(args.rate * args.duration))
        await replay(settings, offered, rate=args.rate, id_prefix="lat", progress=not args.no_progress)
        ids = {f"lat-{i:07d}" for i in offered.indices}
        complete = await watcher.wait_for(ids, args.timeout) and complete
        latencies = np.array([watcher.arrivals[i][0] - _created(watcher.arrivals[i][1])
                              for i in ids if i in watcher.arrivals])
        inference_ms = np.array([watcher.arrivals[i][1]["inference_ms"] for i in ids if i in watcher.arrivals])
        versions = {watcher.arrivals[i][1]["model_version"] for i in ids if i in watcher.arrivals}
        embedders = {watcher.arrivals[i][1]["embedder_id"] for i in ids if i in watcher.arrivals}
    finally:
        await watcher.stop()
    return {"throughput": throughput, "cpu_per_ticket": cpu_per_ticket, "stages": stages,
            "latencies": latencies, "inference_ms": inference_ms,
            "complete": complete, "versions": versions, "embedders": embedders}


async def _backlog(args, settings: Settings, worker_pids: list[int], prefix: str) -> dict:
    """Throughput only: warm up, publish a backlog at once, time until every ClassifiedEvent arrived.

    CPU per ticket sums every worker of ``worker_pids`` (the consumer group's members).
    """
    rows = classifiable(load_rows(args.data, text_col=args.text_col, limit=args.warmup + args.tickets + 100))
    watcher = ClassifiedWatcher(settings, settings.kafka.topic_classified)
    await watcher.start()
    try:
        warm = _pick(rows, 0, args.warmup)
        await replay(settings, warm, rate=0, id_prefix=f"{prefix}warm", progress=False)
        await watcher.wait_for({f"{prefix}warm-{i:07d}" for i in warm.indices}, 300)
        backlog = _pick(rows, args.warmup, args.tickets)
        cpu_before, started = sum(map(cpu_seconds, worker_pids)), time.time()
        await replay(settings, backlog, rate=0, id_prefix=f"{prefix}tput", progress=not args.no_progress)
        ids = {f"{prefix}tput-{i:07d}" for i in backlog.indices}
        complete = await watcher.wait_for(ids, args.timeout)
        done = max(watcher.arrivals[i][0] for i in ids if i in watcher.arrivals)
        arms = {watcher.arrivals[i][1].get("arm") for i in ids if i in watcher.arrivals}
    finally:
        await watcher.stop()
    return {"throughput": sum(i in watcher.arrivals for i in ids) / (done - started),
            "cpu_per_ticket": (sum(map(cpu_seconds, worker_pids)) - cpu_before) / len(ids), "complete": complete,
            "arms": arms}


def bench_env(bootstrap: str, external: bool, suffix: str) -> dict[str, str]:
    """Worker environment for one benchmark phase: its own topics and group id on ``bootstrap``."""
    env = {
        "TICKETS_KAFKA_BOOTSTRAP": bootstrap if external else f"kafka://{bootstrap}",
        "TICKETS_TOPIC_RAW": f"bench-raw-{suffix}", "TICKETS_TOPIC_CLASSIFIED": f"bench-classified-{suffix}",
        "TICKETS_TOPIC_FEEDBACK": f"bench-feedback-{suffix}", "TICKETS_TOPIC_DLQ": f"bench-dlq-{suffix}",
        "TICKETS_TOPIC_CLASSIFIED_SHADOW": f"bench-shadow-{suffix}", "TICKETS_APP_ID": f"bench-{suffix}",
        "TICKETS_LOG_FORMAT": "json",
    }
    if not external:
        env["TICKETS_KAFKA_SHORT_FETCH_WAIT"] = "true"  # Tansu holds every fetch for the full wait
    return env


def _shadow_registry(settings: Settings, model: str | None) -> tuple[Path, str, str]:
    """A throw-away registry: the champion's folder linked in, and a challenger copy under another id."""
    from stream.inference.registry import CHALLENGER, Registry

    source = Path(model) if model else Registry(settings.registry_dir).promoted()
    if source is None:
        raise SystemExit(f"no promoted model in {settings.registry_dir}; pass --model")
    champion = source.name
    challenger = champion + "-shadowbench"
    root = Path(tempfile.mkdtemp(prefix="bench-shadow-registry-"))
    (root / champion).symlink_to(source.resolve(), target_is_directory=True)
    (root / challenger).mkdir()
    for item in source.iterdir():
        if item.name != "manifest.json":
            (root / challenger / item.name).symlink_to(item.resolve())
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["version"] = challenger
    (root / challenger / "manifest.json").write_text(json.dumps(manifest))
    registry = Registry(root, settings.embedder_dir)
    registry.promote(champion, reason="bench.stream --shadow")
    registry.set_alias(CHALLENGER, challenger, reason="bench.stream --shadow")
    return root, champion, challenger


def _shadow_bench(args, base: Settings) -> int:
    """Champion alone, then champion + shadow challenger, on fresh workers and topics of one broker."""
    external = os.environ.get("TICKETS_KAFKA_BOOTSTRAP")
    broker = None if external else EmbeddedBroker().start()
    bootstrap = external or broker.bootstrap
    registry, champion, challenger = _shadow_registry(base, args.model)
    results = {}
    try:
        for mode in ("off", "shadow"):
            suffix = uuid.uuid4().hex[:8]
            env = {**bench_env(bootstrap, bool(external), suffix), "TICKETS_WEB_PORT": str(free_port()),
                   "TICKETS_REGISTRY_DIR": str(registry), "TICKETS_CHALLENGER_MODE": mode}
            settings = Settings.from_env({**os.environ, **env})
            log_path = Path(tempfile.gettempdir()) / f"bench-stream-worker-{suffix}.log"
            worker = None
            try:
                asyncio.run(ensure_topics(settings.kafka))
                with open(log_path, "wb") as log:
                    worker = subprocess.Popen([sys.executable, "-m", "stream", "worker"], cwd=REPO,
                                              env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
                _wait_ready(f"http://127.0.0.1:{env['TICKETS_WEB_PORT']}", worker)
                results[mode] = asyncio.run(_backlog(args, settings, [worker.pid], prefix=mode[:2]))
            finally:
                stop_process(worker, 20)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(registry, ignore_errors=True)  # links and the challenger's manifest: never the model
    single, shadow = results["off"], results["shadow"]
    ratio = shadow["throughput"] / single["throughput"]
    load1, load5, _ = os.getloadavg()
    print()
    print(f"Shadow benchmark — {describe_cpu()}; champion {champion}, challenger {challenger} (same artifacts, "
          f"same embedder); {args.tickets} dataset tickets as a backlog after {args.warmup} warm-up; "
          f"max_batch {base.max_batch}, max_tokens {base.embed_max_tokens}; "
          f"load average at the end {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    print()
    print("| mode | throughput | worker CPU per ticket | served by |")
    print("| --- | ---: | ---: | --- |")
    for name, result in (("champion alone (off)", single), ("shadow (champion + challenger)", shadow)):
        print(f"| {name} | {result['throughput']:.1f} tickets/s | {result['cpu_per_ticket'] * 1000:.1f} ms "
              f"| {', '.join(sorted(a or 'none' for a in result['arms']))} |")
    print(f"| **shadow / single** | **{ratio:.0%}** | {shadow['cpu_per_ticket'] / single['cpu_per_ticket']:.2f}x "
          f"| target >= 85% |")
    complete = single["complete"] and shadow["complete"]
    if not complete:
        print("\nWARNING: some tickets were not classified before the timeout")
    return 0 if complete else 1


def _wait_ready(url: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"worker exited with {process.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                # ready to serve is not enough: latencies must not include the group join
                if response.status == 200 and json.loads(response.read()).get("consuming", True):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("worker not ready in time")


def _evidence_cost(args) -> int:
    from bench.evidence_cost import report

    from stream.inference.predictor import Predictor
    from stream.inference.registry import Registry

    settings = Settings.from_env()
    folder = Path(args.model) if args.model else Registry(settings.registry_dir).promoted()
    if folder is None:
        raise SystemExit(f"no promoted model in {settings.registry_dir}; pass --model")
    predictor = Predictor.load(folder, settings.embedder_dir)
    rows = load_rows(args.data, text_col=args.text_col, limit=args.evidence_cost)
    texts = [t for t in predictor.assemble([{"ticket_id": str(i), "source": "email", "messages": [
        {"role": "requester", "text": text}]} for i, text in zip(rows.indices, rows.texts)]) if t.strip()]
    print(f"{describe_cpu()}; load average {os.getloadavg()[0]:.1f}")
    print(report(predictor, texts))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--text-col", default="Document")
    parser.add_argument("--tickets", type=int, default=3000, help="backlog size for the throughput phase")
    parser.add_argument("--rate", type=float, default=40.0, help="offered rate of the latency phase (tickets/s)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the latency phase")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--evidence-cost", type=int, metavar="N",
                        help="instead: time the evidence step on N dataset tickets with the promoted model")
    parser.add_argument("--model", help="with --evidence-cost, --shadow or --scale-out: a version folder "
                                        "instead of the promoted model")
    parser.add_argument("--shadow", action="store_true",
                        help="instead: backlog throughput of the champion alone vs shadow mode, side by side")
    parser.add_argument("--scale-out", metavar="COUNTS",
                        help="instead: backlog throughput with each of these worker counts in one consumer group, "
                             "e.g. 1,2,4 (bench/scale_out.py)")
    parser.add_argument("--partitions", type=int, help="with --scale-out: raw-topic partitions "
                                                       "(default: the largest count, at least 4)")
    parser.add_argument("--worker-threads", type=int, metavar="N", help="with --scale-out: ONNX threads of "
                                                                         "each worker (default: cores // workers)")
    args = parser.parse_args(argv)
    if args.scale_out:
        from bench.scale_out import parse_counts, partitions_for, run

        try:
            partitions_for(parse_counts(args.scale_out), args.partitions)
        except ValueError as exc:
            parser.error(str(exc))
        return run(args)
    if args.evidence_cost:
        return _evidence_cost(args)
    if args.shadow:
        return _shadow_bench(args, Settings.from_env())

    base = Settings.from_env()
    external = os.environ.get("TICKETS_KAFKA_BOOTSTRAP")
    broker = None if external else EmbeddedBroker().start()
    bootstrap = external or broker.bootstrap
    suffix = uuid.uuid4().hex[:8]
    env = {**bench_env(bootstrap, bool(external), suffix), "TICKETS_WEB_PORT": str(free_port())}
    settings = Settings.from_env({**os.environ, **env})
    log_path = Path(tempfile.gettempdir()) / f"bench-stream-worker-{suffix}.log"
    worker = None
    try:
        asyncio.run(ensure_topics(settings.kafka))
        with open(log_path, "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "stream", "worker"], cwd=REPO,
                                      env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        _wait_ready(f"http://127.0.0.1:{env['TICKETS_WEB_PORT']}", worker)
        result = asyncio.run(_bench(args, settings, worker.pid, f"http://127.0.0.1:{env['TICKETS_WEB_PORT']}/metrics"))
    finally:
        stop_process(worker, 20)
        if broker is not None:
            broker.stop()

    lat = result["latencies"]
    p50, p95, p99 = (np.percentile(lat, q) for q in (50, 95, 99))
    load1, load5, _ = os.getloadavg()
    print()
    print(f"Stream benchmark — {describe_cpu()}; "
          f"model {', '.join(sorted(result['versions']))}, embedder {', '.join(sorted(result['embedders']))}, "
          f"max_batch {base.max_batch}, max_wait {base.max_wait_s}s, max_tokens {base.embed_max_tokens}, "
          f"batch tokens {base.embed_batch_tokens}, threads {base.embed_threads or 'default'}; "
          f"load average at the end {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    print()
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| sustained throughput ({args.tickets} dataset tickets, backlog) | {result['throughput']:.1f} tickets/s "
          f"| >= 80 tickets/s |")
    cores = os.cpu_count() or 1
    print(f"| worker CPU time per ticket (backlog phase) | {result['cpu_per_ticket'] * 1000:.1f} ms | |")
    print(f"| throughput bound if the worker had all {cores} cores (cores / CPU time per ticket) "
          f"| {cores / result['cpu_per_ticket']:.1f} tickets/s | |")
    print(f"| end-to-end p50 at {args.rate:g} tickets/s offered ({len(lat)} tickets) | {p50 * 1000:.0f} ms | |")
    print(f"| end-to-end p95 at {args.rate:g} tickets/s offered | {p95 * 1000:.0f} ms | |")
    print(f"| end-to-end p99 at {args.rate:g} tickets/s offered | {p99 * 1000:.0f} ms | < 1000 ms |")
    print(f"| batch inference time p50 (latency phase) | {np.percentile(result['inference_ms'], 50):.0f} ms | |")
    print()
    print("Worker CPU ms per ticket by stage (backlog phase; tickets_stage_cpu_seconds_total, see "
          "stream/inference/stages.py: inference stages count the whole process while they run):")
    print()
    print("| stage | CPU ms per ticket |")
    print("| --- | ---: |")
    named = 0.0
    for name in STAGES:
        if name in result["stages"]:
            named += result["stages"][name]
            print(f"| {name} | {result['stages'][name] * 1000:.2f} |")
    print(f"| rest of the worker (Faust, consumer, event loop) | {(result['cpu_per_ticket'] - named) * 1000:.2f} |")
    print(f"| **total (process CPU from /proc)** | **{result['cpu_per_ticket'] * 1000:.2f}** |")
    if not result["complete"]:
        print("\nWARNING: some tickets were not classified before the timeout; worker log:", log_path)
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
