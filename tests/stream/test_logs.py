"""Structured logs: JSON lines with the extras as keys, or readable text; configuring twice is harmless."""
from __future__ import annotations

import io
import json
import logging

import pytest

from stream import logs


@pytest.fixture(autouse=True)
def _restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_extras():
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    logging.getLogger("stream.worker.agents").info("batch done", extra={"consumed": 64, "inference_ms": 41.5})
    line = json.loads(out.getvalue().strip())
    assert line["message"] == "batch done" and line["level"] == "INFO" and line["logger"] == "stream.worker.agents"
    assert line["consumed"] == 64 and line["inference_ms"] == 41.5 and line["ts"].endswith("+00:00")


def test_text_format_is_readable():
    out = io.StringIO()
    logs.configure("INFO", "text", stream=out)
    logging.getLogger("stream.worker.live_model").warning("model swapped", extra={"version": "v2"})
    assert "WARNING stream.worker.live_model: model swapped  version=v2" in out.getvalue()


def test_configure_is_idempotent_and_quiets_libraries():
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    logs.configure("INFO", "json", stream=out)
    logging.getLogger("stream.x").info("once")
    logging.getLogger("aiokafka.consumer").info("library chatter")
    assert out.getvalue().count("once") == 1 and "library chatter" not in out.getvalue()


def test_auto_is_json_when_not_a_terminal():
    out = io.StringIO()
    logs.configure("INFO", "auto", stream=out)
    logging.getLogger("stream.x").info("hello")
    assert json.loads(out.getvalue())["message"] == "hello"
