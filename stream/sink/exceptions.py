"""Errors of the Snowflake sink."""
from __future__ import annotations


class SinkError(Exception):
    """Root of the sink's errors."""


class SinkFlushError(SinkError):
    """A batch could not be written after every retry; its offsets stay uncommitted."""

    def __init__(self, table: str, rows: int, cause: BaseException):
        super().__init__(f"writing {rows} rows to {table} failed: {cause}")
        self.table = table
        self.rows = rows
        self.cause = cause


class SinkRejectedRecord(SinkError):
    """A record can never be written (not valid JSON or not the contract); it goes to the DLQ."""

    def __init__(self, error_code: str, reason: str):
        super().__init__(reason)
        self.error_code = error_code
        self.reason = reason
