"""The local Snowflake emulation: a fakesnow server persisting to DuckDB files.

fakesnow's own ``server()`` shares one *in-memory* database between sessions
(or opens a fresh DuckDB per session when a client asks for a file, which two
sessions cannot share). We want one durable, shared database, so we swap the
server's shared instance for one backed by ``db_path`` (one ``<DATABASE>.db``
file per database) before starting it. One emulation per process: fakesnow
keeps its sessions in module globals.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from stream.devtools.broker import free_port
from stream.downstream.settings import SnowflakeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalSnowflake:
    """Where a running emulation listens; the connection settings a client needs."""

    host: str
    port: int
    db_path: str | None

    def env(self, database: str = "TICKETS", schema: str = "PUBLIC") -> dict[str, str]:
        """``TICKETS_SNOWFLAKE_*`` variables pointing a sink (or a reader) here."""
        return {
            "TICKETS_SNOWFLAKE_ACCOUNT": "fakesnow",
            "TICKETS_SNOWFLAKE_USER": "fake",
            "TICKETS_SNOWFLAKE_PASSWORD": "snow",
            "TICKETS_SNOWFLAKE_HOST": self.host,
            "TICKETS_SNOWFLAKE_PORT": str(self.port),
            "TICKETS_SNOWFLAKE_PROTOCOL": "http",
            "TICKETS_SNOWFLAKE_DATABASE": database,
            "TICKETS_SNOWFLAKE_SCHEMA": schema,
        }


@contextlib.contextmanager
def local_snowflake(db_path: str | Path | None, host: str = "127.0.0.1", port: int = 0) -> Iterator[LocalSnowflake]:
    """Run the emulation in a background thread for the duration of the block.

    ``db_path`` is a folder (created if missing) holding the DuckDB files;
    None keeps everything in memory.
    """
    try:
        import uvicorn
        import fakesnow.server as fs_server
        from fakesnow.instance import FakeSnow
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the local Snowflake emulation needs the dev extra: pip install -e '.[dev]'") from exc

    if db_path is not None:
        Path(db_path).mkdir(parents=True, exist_ok=True)
    # fakesnow logs every login and failed statement at INFO on uvicorn's handlers; the client
    # sees the same errors, so keep the emulation's own output to warnings
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    fs_server.shared_fs = FakeSnow(db_path=str(db_path) if db_path is not None else None)
    fs_server.sessions.clear()
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(fs_server.app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fakesnow-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while thread.is_alive() and not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"the local Snowflake emulation did not start on {host}:{port}")
    log.info("local Snowflake emulation", extra={"url": f"http://{host}:{port}", "data": str(db_path or "in memory")})
    try:
        yield LocalSnowflake(host=host, port=port, db_path=str(db_path) if db_path is not None else None)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        fs_server.shared_fs.duck_conn.close()


def run_snowflake_local(snowflake: SnowflakeSettings, stop: threading.Event | None = None) -> int:
    """Run the local Snowflake emulation in the foreground and print how to reach it."""
    stop = stop or threading.Event()
    host, port = snowflake.host or "127.0.0.1", snowflake.port or 8085
    with local_snowflake(snowflake.local_db_path, host=host, port=port) as server:
        print(f"Local Snowflake emulation (fakesnow) on http://{server.host}:{server.port}, "
              f"data in {server.db_path}/. Point the sink at it with:", flush=True)
        for key, value in server.env(snowflake.database, snowflake.schema).items():
            print(f"  export {key}={value}", flush=True)
        print("Ctrl-C stops it.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0
