"""Errors of the worker and its tools, each carrying what a caller needs to act on it."""
from __future__ import annotations

from schemas import errors


class StreamError(errors.TicketClassifierError):
    """Root of every error raised by ``stream`` (outside ``stream.inference``)."""


class ConfigError(StreamError, errors.ConfigError):
    """A ``TICKETS_*`` variable has a value the program cannot use; the message names the variable."""


class BrokerError(StreamError):
    """The embedded broker cannot be found or started."""


class NoPromotedModelError(StreamError):
    """There is no promoted model version to serve."""

    def __init__(self, registry_dir):
        self.registry_dir = str(registry_dir)
        super().__init__(
            f"no promoted model in {self.registry_dir} (TICKETS_REGISTRY_DIR). Train and promote one with: "
            f"python -m training train --data data/it-service-tickets/tickets.csv.gz "
            f"--text-col Document --label-col Topic_group --promote"
        )


class BadTicket(StreamError):
    """An input ticket cannot be classified; ``error_code`` is the DeadLetterEvent code."""

    def __init__(self, error_code: str, reason: str):
        self.error_code = error_code
        self.reason = reason
        super().__init__(f"{error_code}: {reason}")


class DataFileError(StreamError):
    """A replay data file cannot be read or lacks the requested columns."""


class PublishError(StreamError):
    """Outputs could not be published (infrastructure, not the records); the worker stops uncommitted."""

    def __init__(self, count: int, attempts: int, errors: list[str]):
        self.count = count
        self.attempts = attempts
        self.errors = errors
        super().__init__(f"could not publish {count} output(s) after {attempts} attempts: {', '.join(errors)}")
