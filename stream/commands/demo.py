"""Run the whole system on this machine with no external services: embedded Kafka broker,
classifier worker, Slack notifier (dry run: logs what it would post), Snowflake sink (local
emulation), and a live replay of held-out tickets, ending with a summary. Ctrl-C stops
everything. Point at real services with TICKETS_KAFKA_BOOTSTRAP, TICKETS_SLACK_BOT_TOKEN and
TICKETS_SNOWFLAKE_ACCOUNT (see README)."""
from __future__ import annotations

NAME = "demo"
HELP = "run the whole system locally and replay held-out tickets through it"
SETTINGS = ("stream.config:Settings", "stream.downstream.settings:SlackSettings",
            "stream.downstream.settings:SnowflakeSettings")


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="data/it-service-tickets/tickets.csv.gz", help="labelled tickets")
    parser.add_argument("--text-col", default="Document")
    parser.add_argument("--label-col", default="Topic_group")
    parser.add_argument("--tickets", type=int, default=300,
                        help="tickets to replay: held-out ones plus the showcase's (default 300)")
    parser.add_argument("--rate", type=float, default=10.0, help="tickets per second offered (default 10)")
    parser.add_argument("--train-sample", type=int, default=8000,
                        help="stratified subset to train on when the demo's registry (<work-dir>/registry, "
                             "or TICKETS_REGISTRY_DIR when set) has no promoted model (default 8000)")
    parser.add_argument("--holdout", type=int, default=2000, help="tickets kept out of training (default 2000)")
    parser.add_argument("--work-dir", default="artifacts/demo", help="logs, data split, the demo's model registry, local databases")
    parser.add_argument("--keep-running", action="store_true", help="keep everything up after the summary")
    parser.add_argument("--quiet", action="store_true", help="no line per ticket")
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")
    parser.add_argument("--no-showcase", action="store_true",
                        help="replay dataset tickets only, without the hand-written multilingual and HTML "
                             "tickets (stream/devtools/demo/showcase.json) that otherwise make up to a third of the replay")


def log_options(settings) -> tuple[str, str]:
    """The demo's console is for people: its own logs stay quiet unless TICKETS_LOG_LEVEL asks;
    each child process logs to a file under --work-dir/logs."""
    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    return level, "text" if settings.log_format == "auto" else settings.log_format


def run(args) -> int:
    from pathlib import Path

    from stream.config import Settings
    from stream.devtools.demo.run import DemoOptions, run_demo

    settings = Settings.from_env()
    options = DemoOptions(
        data=Path(args.data), text_col=args.text_col, label_col=args.label_col, tickets=args.tickets,
        rate=args.rate, train_sample=args.train_sample, holdout=args.holdout, work_dir=Path(args.work_dir),
        keep_running=args.keep_running, quiet=args.quiet,
        summary_json=Path(args.summary_json) if args.summary_json else None, showcase=not args.no_showcase,
    )
    if args.tickets > args.holdout:
        raise SystemExit(f"--tickets ({args.tickets}) cannot exceed --holdout ({args.holdout})")
    return run_demo(options)
