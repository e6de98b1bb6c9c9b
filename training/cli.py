"""``python -m training <command>``: one argparse subcommand per job.

Each command lives in its own module and registers itself through a
``register(subparsers)`` function listed in ``COMMANDS``; the handler it sets
with ``set_defaults(handler=...)`` receives the parsed arguments and returns
the exit code. Heavy imports (torch…) happen inside handlers, never here.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules with a ``register(subparsers)`` function; add yours here.
COMMANDS = [
    "training.embedders.commands",
    "training.commands",
    "training.lifecycle_commands",
    "training.embed_command",
    "training.fine_tune.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Offline tools: build/export embedders, train, evaluate, manage the model registry.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from stream import logs
    from stream.config import ConfigError, Settings

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The same structured logs as the serving processes: JSON lines in the retraining job.
    logs.configure("DEBUG" if args.verbose else settings.log_level, settings.log_format)
    return int(args.handler(args) or 0)
