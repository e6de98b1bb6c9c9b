"""Errors of the Slack notifier and interactivity endpoint."""
from __future__ import annotations

from stream.exceptions import StreamError

from stream.downstream.exceptions import DependencyUnavailable


class SlackNotifierError(StreamError):
    """Root of the notifier's errors."""


class SlackPermanentError(SlackNotifierError):
    """Slack refused the message for a reason a retry cannot fix (bad channel, archived, blocks)."""

    def __init__(self, error: str, channel: str):
        super().__init__(f"Slack refused the message for {channel}: {error}")
        self.error = error
        self.channel = channel
        self.error_code = "slack_permanent_error"  # what the dead letter says (stream.kafka.dlq.failure_reason)
        self.reason = str(self)


class SlackUnavailable(SlackNotifierError, DependencyUnavailable):
    """Slack stayed rate-limited or unreachable through every retry, or refused our token; nothing is committed."""


class BadInteraction(SlackNotifierError):
    """A correctly signed interactivity request we cannot turn into feedback."""
