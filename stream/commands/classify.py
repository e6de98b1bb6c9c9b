"""Classify one ticket text with the promoted model, locally (no broker needed).

Example: python -m stream classify "cannot log in to vpn, password expired" """
from __future__ import annotations

NAME = "classify"
HELP = "print the prediction for one ticket text (loads the promoted model)"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("text", help="the ticket text (quote it)")
    parser.add_argument("--subject", default=None, help="optional subject line")
    parser.add_argument("--json", action="store_true", help="print the full ClassifiedEvent as JSON")


def log_options(settings) -> tuple[str, str]:
    """One answer on stdout: only warnings on stderr, readable on a terminal."""
    import sys

    return "WARNING", "text" if sys.stderr.isatty() else settings.log_format


def run(args) -> int:
    import sys

    from stream.config import Settings
    from stream.exceptions import BadTicket, NoPromotedModelError
    from stream.inference import language
    from stream.inference.exceptions import ModelLoadError
    from stream.worker.live_model import ModelHolder
    from stream.worker.classify import classify_now
    from stream.worker.decode import parse_ticket, text_ticket

    settings = Settings.from_env()
    language.configure(settings.languages)
    try:
        predictor = ModelHolder(settings).load_promoted()
    except (NoPromotedModelError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        ticket = parse_ticket(text_ticket({"text": args.text, "subject": args.subject, "ticket_id": "cli"}))
        event = classify_now(predictor, ticket)
    except BadTicket as bad:
        print(f"error: {bad.error_code}: {bad.reason}", file=sys.stderr)
        return 1
    if args.json:
        print(event.model_dump_json(indent=2))
        return 0
    verdict = "needs a human" if event.needs_human else "confident"
    print(f"{event.category}  ({event.confidence:.2f}, {verdict}; model {event.model_version})")
    if event.labels is not None:  # a multi-label version: the predicted set, then the most probable labels
        print("labels: " + (", ".join(f"{item.label} {item.probability:.2f}" for item in event.labels)
                            or "none above its threshold"))
    for top in event.top_k:
        print(f"  {top.probability:.3f}  {top.category}")
    return 0
