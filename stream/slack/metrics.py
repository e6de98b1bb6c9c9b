"""The Slack notifier's and interactivity endpoint's Prometheus metrics (see ``docs/metrics.md``)."""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from stream.prometheus import MetricsContainer, registry_or_new

PREFIX = "tickets_"


@dataclass(frozen=True)
class SlackMetrics(MetricsContainer):
    registry: CollectorRegistry
    messages: Counter           # messages (ticket x channel) handled, by outcome: posted|duplicate|dry_run|dead_lettered
    errors: Counter             # Slack API errors, by Slack's error code (ratelimited, channel_not_found, …)
    requests_rejected: Counter  # interactivity requests refused, by reason: missing_headers|stale|bad_signature
    feedback_events: Counter    # FeedbackEvents produced from button clicks and selections
    message_updates: Counter    # clicked messages rewritten with the answer, by outcome: updated|failed|skipped


def create(registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> SlackMetrics:
    """Register every Slack metric on ``registry`` (a new one when omitted)."""
    registry = registry_or_new(registry)
    p = prefix
    return SlackMetrics(
        registry=registry,
        messages=Counter(f"{p}slack_messages_total", "Slack messages handled by the notifier (one per ticket and channel), by outcome.",
                         ["outcome"], registry=registry),
        errors=Counter(f"{p}slack_errors_total", "Errors from the Slack Web API, by Slack error code.", ["error"],
                       registry=registry),
        requests_rejected=Counter(f"{p}slack_requests_rejected_total",
                                  "Interactivity requests refused (unsigned, badly signed or stale), by reason.",
                                  ["reason"], registry=registry),
        feedback_events=Counter(f"{p}feedback_events_total", "FeedbackEvents produced from Slack interactions.",
                                registry=registry),
        message_updates=Counter(f"{p}slack_message_updates_total",
                                "Clicked messages updated with who answered and how (chat.update), by outcome.",
                                ["outcome"], registry=registry),
    )
