"""Errors of the downstream consumers' shared loop."""
from __future__ import annotations

from stream.exceptions import StreamError


class DownstreamError(StreamError):
    """Root of the downstream consumers' errors."""


class DependencyUnavailable(DownstreamError):
    """Slack, Snowflake or the broker stayed unreachable through every retry.

    The only kind of error that stops a downstream consumer: its records are
    left uncommitted and read again after the restart. Any other error raised
    while handling one record dead-letters that record instead.
    """
