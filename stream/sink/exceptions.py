"""Errors of the Snowflake sink."""
from __future__ import annotations

from stream.exceptions import StreamError

from stream.downstream.exceptions import DependencyUnavailable


class SinkError(StreamError):
    """Root of the sink's errors."""


class SinkFlushError(SinkError, DependencyUnavailable):
    """A batch could not be written after every retry, or its table does not answer; its offsets stay uncommitted."""

    def __init__(self, table: str, rows: int, cause: BaseException):
        super().__init__(f"writing {rows} rows to {table} failed: {cause}")
        self.table = table
        self.rows = rows
        self.cause = cause


class SinkRejectedRecord(SinkError):
    """A record can never be written (not the contract, not convertible, refused by Snowflake); it goes to the DLQ."""

    def __init__(self, error_code: str, reason: str):
        super().__init__(reason)
        self.error_code = error_code
        self.reason = reason
