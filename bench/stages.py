"""Stage profile: worker CPU ms per ticket per stage, several configurations side by side.

Runs the worker's own batch code (``stream.pipeline``: decode, clean, tokenize,
embed, lexical, knn, booster, blend, build + serialise the ClassifiedEvent) in
this process on real dataset tickets cut into micro-batches, without Kafka, so
stage figures are exact process CPU (``stream/inference/stages.py``). Several
configurations (a model version plus serving settings) are loaded together and
run interleaved, batch by batch, on the same tickets: machine noise hits all of
them alike, which is what makes a before/after comparison on a shared machine
fair. Prints the CPU line and the load average with the table.

    python -m bench.stages --config before=artifacts/registry      # promoted version
    python -m bench.stages --config before=REG_A --config "after=REG_B;threads=1" --tickets 2000

A configuration is ``LABEL=PATH[;setting=value...]``: PATH is a registry (its promoted
version) or a version folder; settings are ``threads``, ``max_tokens``, ``batch_tokens`` (the serving
``TICKETS_EMBED_*`` settings).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.machine import describe_cpu
from stream.config import Settings
from stream.devtools.replay import load_rows, ticket_event
from stream.inference.stages import StageClock, thread_stage
from stream.worker.classify import _run_batch, build_event
from stream.worker.decode import decode_ticket
from stream.worker.live_model import load_predictor

REPO = Path(__file__).resolve().parents[1]

DATA = REPO / "data" / "it-service-tickets" / "tickets.csv.gz"
ROWS = ("decode", "clean", "tokenize", "embed", "lexical", "knn", "booster", "blend", "serialise")
SETTINGS = {"threads": "embed_threads", "max_tokens": "embed_max_tokens", "batch_tokens": "embed_batch_tokens"}


@dataclass
class Config:
    label: str
    version_dir: Path
    settings: Settings
    predictor: object = None
    clock: StageClock = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    tickets: int = 0


def parse_config(spec: str, base: Settings) -> Config:
    label, _, rest = spec.partition("=")
    path, *pairs = rest.split(";")
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in SETTINGS:
            raise SystemExit(f"unknown setting {key!r} in {spec!r}; use {sorted(SETTINGS)}")
        overrides[SETTINGS[key]] = int(value)
    folder = Path(path)
    if (folder / "PROMOTED").is_file():
        folder = folder / (folder / "PROMOTED").read_text().strip()
    if not (folder / "manifest.json").is_file():
        raise SystemExit(f"{path} is neither a registry with a promoted version nor a version folder")
    return Config(label, folder, base.model_copy(update=overrides), clock=StageClock())


def run_one(config: Config, raw: list[bytes]) -> None:
    """One micro-batch through the worker's code: what the worker's inference and loop threads do."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    clock = StageClock()
    with thread_stage(clock, "decode"):
        tickets = [decode_ticket(r, 1 << 20) for r in raw]
    output = _run_batch(config.predictor, tickets)
    clock.merge(output.stages)
    now = datetime.now(timezone.utc)
    with thread_stage(clock, "serialise"):
        for i, ticket in enumerate(tickets):
            if i in output.predictions:
                build_event(ticket, output.texts[i], output.predictions[i], config.predictor,
                            output.seconds, now).to_json_bytes()
    config.clock.merge(clock)
    config.cpu_s += time.process_time() - cpu0
    config.wall_s += time.perf_counter() - wall0
    config.tickets += len(raw)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", required=True, help="LABEL=PATH[;threads=N;max_tokens=N]")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--text-col", default="Document")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--skip", type=int, default=0, help="start at this row of the data file")
    parser.add_argument("--batch", type=int, default=64, help="micro-batch size (the worker's TICKETS_MAX_BATCH)")
    parser.add_argument("--warmup", type=int, default=2, help="batches per configuration before measuring")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    base = Settings.from_env()
    configs = [parse_config(spec, base) for spec in args.config]
    for config in configs:
        config.predictor = load_predictor(config.version_dir, config.settings)
    rows = load_rows(args.data, text_col=args.text_col, limit=args.tickets, skip=args.skip)
    raw = [json.dumps(ticket_event(i, t, "stage")).encode() for i, t in zip(rows.indices, rows.texts)]
    batches = [raw[i:i + args.batch] for i in range(0, len(raw), args.batch)]
    for batch in batches[:args.warmup]:
        for config in configs:
            run_one(config, batch)
    for config in configs:
        config.clock, config.cpu_s, config.wall_s, config.tickets = StageClock(), 0.0, 0.0, 0
    for n, batch in enumerate(batches):  # interleaved, alternating who goes first
        for config in (configs if n % 2 == 0 else configs[::-1]):
            run_one(config, batch)

    load1, load5, _ = os.getloadavg()
    print(f"\nStage profile — {describe_cpu()}; {len(raw)} dataset tickets (rows {args.skip}…"
          f"{args.skip + len(raw) - 1}) in batches of {args.batch}, configurations interleaved; "
          f"load average at the end {load1:.1f} (1 min) / {load5:.1f} (5 min)\n")
    for config in configs:
        p = config.predictor
        emb = getattr(p, "embedder", None)
        print(f"- {config.label}: {config.version_dir.name} ({len(p.labels)} labels, "
              f"{p._booster.num_trees()} trees, "  # noqa: SLF001 - a figure worth printing
              f"knn reference {len(p._neighbours.labels) if p._neighbours is not None else 0}, "  # noqa: SLF001
              f"embedder {emb.id if emb else 'none'}, max_tokens {emb.max_tokens if emb else '-'}, "
              f"{getattr(emb, 'truncation', '-')}, batch tokens {config.settings.embed_batch_tokens}, "
              f"threads {config.settings.embed_threads or 'default'})")
    print()
    print("| CPU ms per ticket | " + " | ".join(c.label for c in configs) + " |")
    print("| --- |" + " ---: |" * len(configs))
    figures = {c.label: {} for c in configs}
    for name in ROWS:
        cells = []
        for c in configs:
            ms = 1000 * c.clock.cpu.get(name, 0.0) / c.tickets
            figures[c.label][name] = ms
            cells.append(f"{ms:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for c in configs:
        other = 1000 * (c.cpu_s - sum(c.clock.cpu.get(n, 0.0) for n in ROWS)) / c.tickets
        figures[c.label]["other"] = other
        cells.append(f"{other:.2f}")
    print("| other (batching, numpy glue) | " + " | ".join(cells) + " |")
    for c in configs:
        figures[c.label]["total"] = 1000 * c.cpu_s / c.tickets
        figures[c.label]["wall_tickets_per_s"] = c.tickets / c.wall_s
    print("| **total process CPU** | " + " | ".join(f"**{figures[c.label]['total']:.2f}**" for c in configs) + " |")
    print("| tickets/s (wall, this process alone) | "
          + " | ".join(f"{figures[c.label]['wall_tickets_per_s']:.1f}" for c in configs) + " |")
    if len(configs) > 1:
        first = figures[configs[0].label]["total"]
        print("| total vs " + configs[0].label + " | "
              + " | ".join(f"{figures[c.label]['total'] / first:.2f}×" for c in configs) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": describe_cpu(), "load": [load1, load5],
                                               "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
