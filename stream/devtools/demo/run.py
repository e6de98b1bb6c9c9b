"""The whole system on one machine: broker, worker, Slack notifier, Snowflake sink, live replay.

Order: split the shipped data (held-out tickets are never trained on) → make
sure a model is promoted (train one on a stratified subset if not) → start the
embedded broker, the local Snowflake emulation, the worker, the notifier and
the sink → replay held-out tickets at a steady rate while showing each result
→ print a summary → stop everything (also on Ctrl-C).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from stream.devtools.broker import EmbeddedBroker, free_port
from stream.config import Settings
from stream.devtools.demo.live import Observed, watch
from stream.devtools.demo.processes import Supervisor
from stream.devtools.demo.split import make_split
from stream.devtools.demo.summary import summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    data: Path
    text_col: str
    label_col: str
    tickets: int            # how many held-out tickets to replay
    rate: float             # tickets per second offered
    train_sample: int       # stratified subset size when the demo has to train
    holdout: int            # size of the held-out half of the split
    work_dir: Path          # logs, split, sink database, dedupe store
    keep_running: bool
    quiet: bool
    summary_json: Path | None
    showcase: bool = True   # mix the hand-written multilingual / HTML tickets into the replay


def ensure_model(settings: Settings, options: DemoOptions, train_file: Path) -> str:
    """The promoted version, training and promoting one on the demo's train split if there is none."""
    from stream.inference.registry import Registry

    registry = Registry(settings.registry_dir)
    promoted = registry.promoted()
    if promoted is not None:
        print(f"• model: using promoted version {promoted.name} from {settings.registry_dir}")
        return promoted.name
    rate = _measure_embedding_rate(settings, train_file, options.text_col)
    estimate_s = options.train_sample / rate + 20 + options.train_sample / 400
    print(f"• model: none promoted in {settings.registry_dir}; training one on a stratified "
          f"{options.train_sample:,}-ticket subset of the training split.\n"
          f"  This machine embeds about {rate:.0f} tickets/s, so expect about {estimate_s / 60:.1f} minutes "
          f"(once: embeddings are cached).", flush=True)
    started = time.monotonic()
    command = [sys.executable, "-m", "training", "train", "--data", str(train_file),
               "--text-col", options.text_col, "--label-col", options.label_col,
               "--sample", str(options.train_sample), "--out", settings.registry_dir, "--promote"]
    result = subprocess.run(command, env=os.environ.copy())
    if result.returncode != 0:
        raise RuntimeError(f"training failed (exit {result.returncode}): {' '.join(command)}")
    promoted = registry.promoted()
    if promoted is None:
        raise RuntimeError("training finished but promoted no version")
    print(f"  trained and promoted {promoted.name} in {(time.monotonic() - started) / 60:.1f} minutes")
    return promoted.name


def _measure_embedding_rate(settings: Settings, train_file: Path, text_col: str) -> float:
    """Tickets/s of the configured embedder on 64 real tickets: the basis of the time estimate."""
    import pandas as pd

    from stream.inference.embedders import open_embedder

    spec = {"name": "multilingual-e5-small", "variant": settings.embed_variant}
    embedder = open_embedder(settings.embedder_dir, spec, max_tokens=settings.embed_max_tokens)
    texts = pd.read_csv(train_file, usecols=[text_col], nrows=64, dtype=str)[text_col].fillna("").tolist()
    embedder.embed(texts[:8])
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / max(time.perf_counter() - started, 1e-6)


def _scrape_counter(url: str, name: str) -> float | None:
    """Sum of one counter's samples on a Prometheus text endpoint (None if unreachable)."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            metric = line.split(" ")[0].split("{")[0]
            if metric == name:
                total += float(line.rsplit(" ", 1)[1])
    return total


def _count_sink_rows(env: dict[str, str], model_version: str, since_utc: datetime) -> int | None:
    """Rows this run wrote: this model's, processed since the run started (earlier runs' rows stay
    in the sink, and a rerun with the same model MERGEs onto them, refreshing PROCESSED_AT)."""
    from stream.downstream.settings import SnowflakeSettings
    from stream.sink.connection import connect

    settings = SnowflakeSettings.from_env(env)
    try:
        with connect(settings) as conn:
            cursor = conn.cursor()
            cursor.execute(f"SELECT COUNT(*) FROM {settings.table_classified} WHERE MODEL_VERSION = %s "
                           f"AND PROCESSED_AT >= TO_TIMESTAMP_NTZ(%s)",
                           (model_version, since_utc.strftime("%Y-%m-%d %H:%M:%S")))
            return int(cursor.fetchone()[0])
    except Exception as exc:  # the summary must not hide the run's other results
        log.warning("could not count sink rows", extra={"error": str(exc)})
        return None


def demo_registry(work_dir: Path, environ) -> tuple[str, bool]:
    """(registry folder, whether it is the demo's own).

    The demo's figures are held-out figures only if the model never saw the held-out
    tickets, so by default it keeps its own registry under ``work_dir``, trained on the
    demo's training split alone. A model from ``make train`` (all 38k tickets) has seen
    them; it is used only when ``TICKETS_REGISTRY_DIR`` names a registry explicitly.
    """
    explicit = environ.get("TICKETS_REGISTRY_DIR")
    return (explicit, False) if explicit else (str(work_dir / "registry"), True)


def run_demo(options: DemoOptions) -> int:
    work = options.work_dir
    work.mkdir(parents=True, exist_ok=True)
    registry_dir, own_registry = demo_registry(work, os.environ)
    env = os.environ.copy()
    env["TICKETS_REGISTRY_DIR"] = registry_dir  # the children serve the model the demo picked
    base = Settings.from_env(env)
    split = make_split(options.data, work / "split", options.text_col, options.label_col, options.holdout)
    version = ensure_model(base, options, split.train)
    if not own_registry:
        print(f"  (TICKETS_REGISTRY_DIR is set: the figures below are held-out figures only if this model "
              f"was trained without {split.holdout})")

    broker = None
    if "TICKETS_KAFKA_BOOTSTRAP" not in os.environ:
        broker = EmbeddedBroker(log_path=work / "logs" / "broker.log")
        (work / "logs").mkdir(parents=True, exist_ok=True)
        broker.start()
        env["TICKETS_KAFKA_BOOTSTRAP"] = f"kafka://{broker.bootstrap}"
        env["TICKETS_KAFKA_SHORT_FETCH_WAIT"] = "true"  # Tansu holds every fetch for the full wait
        print(f"• broker: embedded Tansu on {broker.bootstrap} (in memory)")
    else:
        print(f"• broker: external {os.environ['TICKETS_KAFKA_BOOTSTRAP']}")
    web_port = base.web_port if "TICKETS_WEB_PORT" in os.environ else _port_or_free(base.web_host, base.web_port)
    metrics_port = free_port()
    env.update({
        "TICKETS_WEB_PORT": str(web_port),
        "TICKETS_APP_ID": env.get("TICKETS_APP_ID", f"ticket-demo-{int(time.time())}"),
        "TICKETS_SLACK_METRICS_PORT": str(metrics_port),
        "TICKETS_SLACK_DEDUPE_PATH": str(work / "slack-posted.sqlite"),
        "TICKETS_SLACK_INTERACTIVITY_HOST": "127.0.0.1",
        "TICKETS_LOG_FORMAT": env.get("TICKETS_LOG_FORMAT", "text"),
    })
    settings = Settings.from_env(env)
    supervisor = Supervisor(work / "logs", env)
    try:
        if "TICKETS_SNOWFLAKE_ACCOUNT" not in os.environ:
            from stream.devtools.snowflake_local import LocalSnowflake

            sf_port = free_port()
            supervisor.start("snowflake-local", "stream", "snowflake-local", "--port", str(sf_port),
                             "--db-path", str(work / "snowflake"))
            env.update(LocalSnowflake("127.0.0.1", sf_port, str(work / "snowflake")).env())
            _wait_port("127.0.0.1", sf_port, supervisor, 60)
            print(f"• snowflake: local emulation on 127.0.0.1:{sf_port} (DuckDB files in {work / 'snowflake'})")
        worker = supervisor.start("worker", "stream", "worker")
        supervisor.start("notifier", "stream", "notifier")
        supervisor.start("sink", "stream", "sink")
        _write_pids(work / "pids.json", supervisor, broker)
        base_url = f"http://{settings.web_host}:{web_port}"
        print(f"• worker: starting (model {version}); logs in {work / 'logs'}", flush=True)
        # Ready means "serves /classify"; the replay waits for the consumer to own its partitions too.
        supervisor.wait_http(worker, f"{base_url}/readyz", timeout_s=180,
                             accept=lambda body: json.loads(body).get("consuming", True))
        showcase = _showcase(options)
        mix = f"{options.tickets - len(showcase)} held-out + {len(showcase)} hand-written multilingual/HTML" \
            if showcase else "held-out"
        print(f"• ready: {base_url}/readyz · replaying {options.tickets} tickets ({mix}) at "
              f"{options.rate:g}/s\n", flush=True)
        replay_started = datetime.now(timezone.utc) - timedelta(seconds=1)  # second-resolution filter below
        summary = asyncio.run(_replay_and_watch(settings, options, split.holdout, supervisor, showcase))
        summary.sink_rows = _wait_sink_rows(env, summary.processed, version, replay_started)
        summary.slack_messages = _scrape_int(f"http://127.0.0.1:{metrics_port}/metrics",
                                             "tickets_slack_messages_total")
        print("\nSummary\n" + summary.render())
        print(f"\n  metrics:  {base_url}/metrics\n  classify: curl -s {base_url}/classify "
              "-H 'content-type: application/json' -d '{\"text\": \"my laptop screen is broken\"}'")
        if options.summary_json:
            options.summary_json.write_text(json.dumps(summary.as_dict(), indent=2))
        if options.keep_running:
            try:  # the notice is inside: a Ctrl-C answering it may land while print() is still running
                print("\nStill running; Ctrl-C stops everything.", flush=True)
                while True:
                    supervisor.check_alive()
                    time.sleep(1)
            except KeyboardInterrupt:
                print("\nCtrl-C: stopping.", flush=True)
        return 0 if summary.missing == 0 else 1
    except KeyboardInterrupt:
        print("\nInterrupted; stopping.", flush=True)
        return 130
    finally:
        supervisor.stop()
        if broker is not None:
            broker.stop()
        print("• stopped: broker, worker, notifier, sink" + ("" if "TICKETS_SNOWFLAKE_ACCOUNT" in os.environ
                                                              else ", snowflake emulation"), flush=True)


def _showcase(options: DemoOptions) -> list[dict]:
    """The hand-written tickets this run mixes in (none with --no-showcase)."""
    from stream.devtools.demo.showcase import how_many, load_showcase

    showcase = load_showcase() if options.showcase else []
    return showcase[: how_many(options.tickets, len(showcase))]


async def _replay_and_watch(settings: Settings, options: DemoOptions, holdout: Path, supervisor: Supervisor,
                            showcase: list[dict]):
    from stream.devtools.demo.showcase import mix_into
    from stream.devtools.replay import load_rows, replay

    rows = load_rows(holdout, text_col=options.text_col, label_col=options.label_col,
                     limit=options.tickets - len(showcase))
    prefix = "demo"
    rows, truth = mix_into(rows, showcase, prefix)
    observed = Observed()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(settings, truth, len(rows), observed, stop,
                                        color=sys.stdout.isatty(), quiet=options.quiet))
    stats = await replay(settings, rows, rate=options.rate, id_prefix=prefix, progress=False)
    # Allow the pipeline to drain: a generous bound, checked against the children staying alive.
    deadline = time.monotonic() + 60 + len(rows) / 5
    while not watcher.done() and time.monotonic() < deadline:
        supervisor.check_alive()
        await asyncio.sleep(0.5)
    stop.set()
    await watcher
    return summarize(observed, truth, sent=stats.sent, sink_rows=None, slack_messages=None)


def _wait_sink_rows(env: dict[str, str], expected: int, model_version: str, since_utc: datetime,
                    timeout_s: float = 30) -> int | None:
    """The sink flushes on size or time: wait briefly until it has written what was classified."""
    deadline = time.monotonic() + timeout_s
    rows = _count_sink_rows(env, model_version, since_utc)
    while rows is not None and rows < expected and time.monotonic() < deadline:
        time.sleep(1)
        rows = _count_sink_rows(env, model_version, since_utc)
    return rows


def _write_pids(path: Path, supervisor: Supervisor, broker: EmbeddedBroker | None) -> None:
    """Where the children are, so an operator (or a test) can check none outlives the demo."""
    pids = {child.name: child.process.pid for child in supervisor.children}
    if broker is not None and broker.process is not None:
        pids["broker"] = broker.process.pid
    path.write_text(json.dumps(pids))


def _scrape_int(url: str, name: str) -> int | None:
    value = _scrape_counter(url, name)
    return None if value is None else int(value)


def _port_or_free(host: str, port: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
            return port
        except OSError:
            return free_port(host)


def _wait_port(host: str, port: int, supervisor: Supervisor, timeout_s: float) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.check_alive()
        with socket.socket() as sock:
            sock.settimeout(0.3)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")
