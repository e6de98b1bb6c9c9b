"""How many shipped training tickets does a cleaning change alter? Old (a git ref) vs this tree.

Every ticket of the shipped dataset is assembled as training assembles it
(``flatten_conversation(row_to_ticket(...))``) by the old ``clean.py`` (read with
``git show REF:stream/inference/clean.py`` into a temporary module) and by the
working tree's. Prints a markdown table of counts, then a few changed tickets.

    .venv/bin/python -m bench.cleaning_diff                # against main
    .venv/bin/python -m bench.cleaning_diff --ref HEAD~3 --examples 10
"""
from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from stream.inference import clean as new_clean

DATA = ROOT / "data" / "it-service-tickets" / "tickets.csv.gz"
#: The last single-module cleaning (PREPROCESSING_VERSION "1"); later versions span several modules.
V1_REF = "b32c28a"


def load_old_clean(ref: str):
    """The old ``clean.py`` as a module of its own (it must import only the standard library)."""
    source = subprocess.run(["git", "show", f"{ref}:stream/inference/clean.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_clean.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_clean", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise SystemExit(f"the cleaning at {ref} is not a single module ({exc}); compare against a ref whose "
                         f"clean.py imports only the standard library, e.g. {V1_REF}") from None
    return module


def assembled(module, document: str) -> tuple[str, bool]:
    conv = module.flatten_conversation(module.row_to_ticket([document]))
    return conv.body, conv.auto_generated


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=V1_REF, help=f"git ref of the old cleaning (default: {V1_REF}, the last "
                                                   "cleaning of PREPROCESSING_VERSION 1)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--column", default="Document")
    ap.add_argument("--examples", type=int, default=5)
    args = ap.parse_args(argv)

    old_clean = load_old_clean(args.ref)
    with gzip.open(args.data, "rt", newline="", encoding="utf-8") as fh:
        docs = [row[args.column] for row in csv.DictReader(fh)]
    changed, newly_auto, newly_empty = [], 0, 0
    timings = {"old": 0.0, "new": 0.0}
    for doc in docs:
        t0 = time.perf_counter()
        old_body, old_auto = assembled(old_clean, doc)
        t1 = time.perf_counter()
        new_body, new_auto = assembled(new_clean, doc)
        timings["old"] += t1 - t0
        timings["new"] += time.perf_counter() - t1
        if (old_body, old_auto) != (new_body, new_auto):
            changed.append((doc, old_body, new_body))
            newly_auto += new_auto and not old_auto
            newly_empty += bool(old_body) and not new_body
    print(f"| tickets | changed | newly auto-reply | newly empty | old clean (s) | new clean (s) |")
    print(f"|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(docs):,} | {len(changed):,} | {newly_auto} | {newly_empty} "
          f"| {timings['old']:.1f} | {timings['new']:.1f} |")
    print(f"\nPREPROCESSING_VERSION {old_clean.PREPROCESSING_VERSION} ({args.ref}) -> "
          f"{new_clean.PREPROCESSING_VERSION} (working tree)")
    for doc, old_body, new_body in changed[:args.examples]:
        print(f"\n- raw: {doc[:200]!r}\n  old: {old_body[:200]!r}\n  new: {new_body[:200]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
