"""CLI commands ``compare`` (champion vs challenger on live traffic) and ``retrain`` (the CronJob's run).

Registered into ``python -m training`` by :mod:`training.cli`.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _window(args):
    from .live import Window

    if args.since:
        return Window(args.since, args.until or datetime.now(timezone.utc))
    return Window.last(args.days, args.until)


def _compare(args) -> int:
    from stream.config import Settings
    from stream.inference.exceptions import InferenceError
    from stream.inference.registry import CHALLENGER, CHAMPION, Registry

    from .compare import CompareSettings, compare_arms, format_report
    from .exceptions import TrainingError
    from .live import connect_sink_tables, read_live

    registry = Registry(args.registry or Settings.from_env().registry_dir)
    champion = args.champion or registry.alias_version(CHAMPION)
    challenger = args.challenger or registry.alias_version(CHALLENGER)
    if not champion or not challenger:
        print("error: no champion/challenger pair: set both aliases (python -m stream registry alias set) "
              "or pass --champion and --challenger", file=sys.stderr)
        return 2
    window = _window(args)
    try:
        conn, classified, feedback = connect_sink_tables()
        try:
            live = read_live(conn, classified, feedback, window, [champion, challenger])
        finally:
            conn.close()
        report = compare_arms(live.predictions, live.labels, champion, challenger,
                              CompareSettings(alpha=args.alpha, min_labelled=args.min_labelled))
    except (TrainingError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["window"] = window.as_dict()
    report["labels"] = {"confirmations": live.confirmations, "corrections": live.corrections}
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _retrain(args) -> int:
    from stream.inference.exceptions import InferenceError

    from .exceptions import TrainingError
    from .retrain import retrain

    try:
        outcome = retrain(args.config, registry_dir=args.registry, embedder_dir=args.embedder_dir,
                          approve=args.approve, skip_training=args.no_train, progress=not args.no_progress)
    except (TrainingError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(outcome, indent=2, default=str) if args.json else outcome["summary"])
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="champion vs challenger on what the sink stored (live traffic)")
    p.add_argument("--registry", help="registry folder, for the aliases (default: TICKETS_REGISTRY_DIR)")
    p.add_argument("--champion", metavar="VERSION", help="default: the registry's champion")
    p.add_argument("--challenger", metavar="VERSION", help="default: the registry's challenger")
    p.add_argument("--since", type=_when, help="window start (ISO date-time, UTC unless an offset is given)")
    p.add_argument("--until", type=_when, help="window end (default: now)")
    p.add_argument("--days", type=float, default=7.0, help="window length when --since is not given (default 7)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the verdict (default 0.05)")
    p.add_argument("--min-labelled", type=int, default=30, metavar="N",
                   help="labelled tickets needed before any verdict (default 30)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=_compare)

    p = subparsers.add_parser("retrain", help="train a candidate, gate it, make it challenger; promote a "
                                               "challenger the live comparison found better")
    p.add_argument("--config", required=True, help="YAML training config with a lifecycle section")
    p.add_argument("--registry", help="registry folder (default: TICKETS_REGISTRY_DIR)")
    p.add_argument("--embedder-dir", help="built embedders (default: TICKETS_EMBEDDER_DIR)")
    p.add_argument("--approve", metavar="VERSION",
                   help="a person approves promoting this challenger (lifecycle.promotion: approval)")
    p.add_argument("--no-train", action="store_true", help="only decide about the current challenger")
    p.add_argument("--json", action="store_true", help="print every decision and its numbers as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_retrain)
