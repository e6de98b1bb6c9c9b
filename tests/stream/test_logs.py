"""Structured logs: JSON lines with the extras as keys, or readable text; configuring twice is harmless."""
from __future__ import annotations

import io
import json
import logging

import pytest

from stream import logs


@pytest.fixture(autouse=True)
def _restore_loggers():
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in logs.PROJECT_LOGGERS]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    yield
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


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


def test_configure_is_idempotent_and_leaves_the_root_logger_and_libraries_alone():
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    library_level = logging.getLogger("aiokafka").level
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    logs.configure("INFO", "json", stream=out)
    logging.getLogger("stream.x").info("once")
    logging.getLogger("training.y").info("training too")
    logging.getLogger("aiokafka.consumer").info("library chatter")
    assert out.getvalue().count("once") == 1 and "training too" in out.getvalue()
    assert "library chatter" not in out.getvalue()
    assert (root.handlers, root.level) == (root_handlers, root_level)
    assert logging.getLogger("aiokafka").level == library_level


def test_the_training_cli_logs_json_lines(tmp_path):
    """The retraining job's logs are the same structured JSON as the serving processes'."""
    import subprocess
    import sys

    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "PROMOTED").write_text("gone-version\n")  # the registry logs an error about it
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(logs.__file__).rsplit("/stream/", 1)[0],
           "TICKETS_LOG_FORMAT": "json"}
    out = subprocess.run([sys.executable, "-m", "training", "evaluate", "--model", str(registry),
                          "--data", str(tmp_path / "none.csv")], capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.startswith("{")]
    assert lines, out.stderr
    entries = [json.loads(line) for line in lines]
    assert any(e["version"] == "gone-version" and e["level"] == "ERROR" for e in entries), entries


def test_auto_is_json_when_not_a_terminal():
    out = io.StringIO()
    logs.configure("INFO", "auto", stream=out)
    logging.getLogger("stream.x").info("hello")
    assert json.loads(out.getvalue())["message"] == "hello"
