"""``python -m training <command>``: one argparse subcommand per job.

Each command lives in its own module and registers itself through a
``register(subparsers)`` function listed in ``COMMANDS``; the handler it sets
with ``set_defaults(handler=...)`` receives the parsed arguments and returns
the exit code. Heavy imports (torch…) happen inside handlers, never here.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules with a ``register(subparsers)`` function; add yours here.
COMMANDS = [
    "training.embedders.commands",
    "training.commands",
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


def _configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("training")
    if not any(getattr(h, "_training_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._training_cli = True
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    return int(args.handler(args) or 0)
