"""Publish tickets from a CSV / CSV.gz / Parquet file to tickets.raw at a steady rate.

Ticket ids are deterministic (prefix + row index), sources alternate chat/email,
created_at is the time of sending. Example:
  python -m stream replay --data data/it-service-tickets/tickets.csv.gz --rate 40 --limit 2000 \\
      --text-col Document --label-col Topic_group"""
from __future__ import annotations

NAME = "replay"
HELP = "publish TicketEvents from a data file at a steady rate"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="CSV, CSV.gz or Parquet file of tickets")
    parser.add_argument("--rate", type=float, required=True, help="tickets per second (0: as fast as possible)")
    parser.add_argument("--limit", type=int, default=None, help="publish at most this many rows")
    parser.add_argument("--skip", type=int, default=0, help="start at this row index")
    parser.add_argument("--text-col", default="Document", help="column with the ticket text")
    parser.add_argument("--label-col", default=None,
                        help="column with the true category: counted per category in the summary, and "
                             "written to --truth-out; never put into the events")
    parser.add_argument("--truth-out", default=None, help="write ticket_id,label CSV here (needs --label-col)")
    parser.add_argument("--id-prefix", default="replay", help="ticket id prefix (default: replay)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    import asyncio
    import json

    from stream.config import Settings
    from stream.devtools.replay import load_rows, replay

    settings = Settings.from_env()
    rows = load_rows(args.data, text_col=args.text_col, label_col=args.label_col, limit=args.limit, skip=args.skip)
    if args.truth_out:
        if not args.label_col:
            raise SystemExit("--truth-out needs --label-col")
        rows.write_truth(args.truth_out, args.id_prefix)
    stats = asyncio.run(replay(settings, rows, rate=args.rate, id_prefix=args.id_prefix,
                               progress=not args.no_progress))
    print(json.dumps(stats.as_dict()))
    return 0 if stats.failed == 0 else 1
