"""Re-publish dead letters to the topic their record came from (tickets.raw unless --topic), byte for byte.

Once the cause of a failure is fixed (a limit raised, a model or a producer
repaired), the records the dead-letter topic holds can be processed again:
each is sent with its original key, value and headers. The topic is read
from the beginning up to its end at start, with no consumer group, so
nothing is committed and --dry-run changes nothing. A replayed record that
fails again is dead-lettered again (narrow the window with --since/--until
to replay each failure once). Prints a JSON report; exit status 1 when a
wanted letter could not be replayed exactly (version 1, original over
TICKETS_DLQ_MAX_BYTES, key cut), 2 on a usage or broker error. Example:
  python -m stream replay-dlq --reason payload_too_large --since 2h --dry-run"""
from __future__ import annotations

NAME = "replay-dlq"
HELP = "re-publish dead letters' original records (key, value, headers) after a fix"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--reason", action="append", default=[], metavar="CODE",
                        help="only letters with this error code (repeatable), e.g. payload_too_large")
    parser.add_argument("--since", default=None, metavar="TIME",
                        help="only letters that failed at or after TIME: RFC 3339, a date, or an age (30m, 2h, 7d)")
    parser.add_argument("--until", default=None, metavar="TIME", help="only letters that failed before TIME")
    parser.add_argument("--topic", default=None,
                        help="only letters of records from this topic, re-published there (default: "
                             "TICKETS_TOPIC_RAW; the notifier's and the sink's letters name tickets.classified "
                             "or tickets.feedback)")
    parser.add_argument("--limit", type=int, default=None, help="replay at most this many letters")
    parser.add_argument("--dry-run", action="store_true", help="read and count, publish nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def run(args) -> int:
    import asyncio
    import json
    import sys
    import typing

    from schemas.models import ErrorCode
    from stream.config import Settings
    from stream.kafka.dlq_replay import LetterFilter, ReplayError, parse_moment, replay_dead_letters

    codes = typing.get_args(ErrorCode)
    unknown = [code for code in args.reason if code not in codes]
    if unknown:
        print(f"error: unknown --reason {', '.join(unknown)}; error codes: {', '.join(codes)}", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        since = parse_moment(args.since) if args.since else None
        until = parse_moment(args.until) if args.until else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    letters = LetterFilter(topic=args.topic or settings.kafka.topic_raw, reasons=frozenset(args.reason),
                           since=since, until=until)

    def progress(report) -> None:
        print(f"replay-dlq: {report.read} read, {report.matched} wanted, "
              f"{report.replayed} {'would be ' if report.dry_run else ''}replayed", file=sys.stderr, flush=True)

    try:
        report = asyncio.run(replay_dead_letters(settings.kafka, letters, dry_run=args.dry_run, limit=args.limit,
                                                 progress=None if args.no_progress else progress))
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict()))
    return 1 if report.not_replayable else 0
