"""Structured logging: JSON lines in production, readable lines on a terminal.

Call :func:`configure` once from an entry point (never at import). Fields
passed with ``extra={...}`` become JSON keys (or ``key=value`` pairs in text
mode). Ticket text is never logged at INFO: log ids and counts instead.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_HANDLER_NAME = "ticket-classifier"
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
#: The project's loggers: the only ones configured here. The root logger and
#: third-party libraries keep Python's defaults (their warnings still reach stderr).
PROJECT_LOGGERS = ("stream", "training", "schemas", "bench")


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message key=value ...`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO", fmt: str = "auto", stream=None) -> None:
    """Install our handler on the project's loggers (idempotent: a second call replaces it).

    Called once per process by the CLI entry (``stream.cli.main``, ``training.cli.main``),
    never at import.
    """
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "text" if hasattr(stream, "isatty") and stream.isatty() else "json"
    if fmt not in ("json", "text"):
        raise ValueError("TICKETS_LOG_FORMAT must be auto, json or text")
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
