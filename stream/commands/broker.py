"""Run the embedded Tansu Kafka broker (in memory, on loopback) in the foreground.

Then start workers with TICKETS_KAFKA_BOOTSTRAP=kafka://HOST:PORT."""
from __future__ import annotations

NAME = "broker"
HELP = "run the embedded Tansu broker in the foreground"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback only)")
    parser.add_argument("--port", type=int, default=9092, help="listen port (default: 9092)")


def run(args) -> int:
    from stream.devtools.broker import run_foreground
    from stream.config import Settings

    settings = Settings.from_env()
    return run_foreground(args.host, args.port)
