"""``python -m stream snowflake-local``: prints its settings, serves the real connector, keeps data on disk."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stream.devtools.broker import free_port
from stream.downstream.settings import SnowflakeSettings
from stream.sink.connection import connect

ROOT = Path(__file__).resolve().parents[2]


def _start(port: int, db_path: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    process = subprocess.Popen([sys.executable, "-m", "stream", "snowflake-local", "--port", str(port),
                                "--db-path", str(db_path)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=os.environ | {"TICKETS_LOG_FORMAT": "text"})
    exports = {}
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if line.strip().startswith("export "):
            key, value = line.strip()[len("export "):].split("=", 1)
            exports[key] = value
        if "Ctrl-C" in line or time.monotonic() > deadline:
            break
    return process, exports


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    finally:
        process.stdout.close()


def test_local_emulation_prints_settings_and_persists_across_restarts(tmp_path):
    port, db_path = free_port(), tmp_path / "snowflake"
    process, exports = _start(port, db_path)
    try:
        assert exports["TICKETS_SNOWFLAKE_PORT"] == str(port)
        settings = SnowflakeSettings.from_env(exports)
        conn = connect(settings)
        conn.cursor().execute("CREATE TABLE KEEP_ME (ID INTEGER, V VARIANT)")
        conn.cursor().execute("INSERT INTO KEEP_ME SELECT 7, PARSE_JSON('{\"a\": [1, 2]}')")
        conn.close()
    finally:
        _stop(process)
    assert process.returncode == 0
    assert (db_path / f"{settings.database}.db").is_file()

    process, exports = _start(port, db_path)
    try:
        conn = connect(SnowflakeSettings.from_env(exports))
        assert conn.cursor().execute("SELECT ID, V:a[1] FROM KEEP_ME").fetchall() == [(7, "2")]
        conn.close()
    finally:
        _stop(process)
