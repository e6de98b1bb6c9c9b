"""Run the classifier worker: consume tickets.raw, publish tickets.classified / tickets.dlq,
serve /healthz, /readyz, /metrics and /classify. Settings come from TICKETS_* variables."""
from __future__ import annotations

NAME = "worker"
HELP = "run the Faust classifier worker (and its HTTP API)"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--web-port", type=int, default=None, help="override TICKETS_WEB_PORT")


def run(args) -> int:

    from stream.config import Settings
    from stream.worker.service import run_worker

    settings = Settings.from_env()
    if args.web_port is not None:
        settings = settings.model_copy(update={"web_port": args.web_port})
    return run_worker(settings)
