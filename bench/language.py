"""Language detection cost and outcome on the shipped tickets, as the worker runs it.

Each ticket is cleaned and assembled by the serving code, then its language is
detected once (one thread, the detector the worker builds from TICKETS_LANGUAGES).
Prints detections/s and what the detector answered; the shipped data is English.

    .venv/bin/python -m bench.language [--n 38269]
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data/it-service-tickets/tickets.csv.gz"))
    parser.add_argument("--text-col", default="Document")
    parser.add_argument("--n", type=int, default=None, help="first N tickets (default: all)")
    args = parser.parse_args(argv)

    import pandas as pd

    from stream.config import Settings
    from stream.inference.clean import flatten_conversation, row_to_ticket
    from stream.inference.language import configure

    texts = pd.read_csv(args.data, usecols=[args.text_col], dtype=str, keep_default_na=False,
                        nrows=args.n)[args.text_col].tolist()
    cleaned = [flatten_conversation(row_to_ticket([t], {})).text for t in texts]
    started = time.perf_counter()
    detector = configure(Settings.from_env().languages)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    answers = [detector.detect(t) for t in cleaned]
    seconds = time.perf_counter() - started
    print(f"# {describe_cpu()}")
    print(f"detector load: {load_s:.2f} s (once per process); languages {','.join(detector.languages)}")
    print(f"{len(cleaned)} tickets in {seconds:.2f} s: {len(cleaned) / seconds:,.0f} detections/s "
          f"({1e6 * seconds / len(cleaned):.0f} µs each), mean {sum(map(len, cleaned)) / len(cleaned):.0f} chars")
    for language, n in Counter(answers).most_common():
        print(f"  {language:<5} {n:>6}  {n / len(answers):6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
