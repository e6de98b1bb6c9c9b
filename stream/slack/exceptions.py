"""Errors of the Slack notifier and interactivity endpoint."""
from __future__ import annotations


class SlackNotifierError(Exception):
    """Root of the notifier's errors."""


class SlackPermanentError(SlackNotifierError):
    """Slack refused the message for a reason a retry cannot fix (bad channel, auth, blocks)."""

    def __init__(self, error: str, channel: str):
        super().__init__(f"Slack refused the message for {channel}: {error}")
        self.error = error
        self.channel = channel


class SlackUnavailable(SlackNotifierError):
    """Slack stayed rate-limited or unreachable through every retry; nothing is committed."""


class BadInteraction(SlackNotifierError):
    """A correctly signed interactivity request we cannot turn into feedback."""
