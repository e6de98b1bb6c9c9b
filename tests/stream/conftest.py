"""Fixtures of the worker tests: environments and worker subprocesses on the session broker."""
from __future__ import annotations

import pytest

from stream.devtools.broker import free_port
from tests.stream.kafka_io import WorkerProcess


def worker_env(bootstrap: str, topics, registry_dir, app_id: str, **extra: str) -> dict[str, str]:
    """Environment of a worker subprocess on this test's topics and model registry."""
    env = {
        "TICKETS_KAFKA_BOOTSTRAP": f"kafka://{bootstrap}",
        "TICKETS_APP_ID": app_id,
        "TICKETS_REGISTRY_DIR": str(registry_dir),
        "TICKETS_LOG_FORMAT": "json",
        # Short group timeouts: Tansu holds joins for half the session timeout.
        "TICKETS_KAFKA_SESSION_TIMEOUT_S": "3",
        "TICKETS_KAFKA_HEARTBEAT_S": "0.5",
        # Dataset tickets are short; 128 tokens bounds the cost of the odd long one.
        "TICKETS_EMBED_MAX_TOKENS": "128",
        "TICKETS_MAX_WAIT_S": "0.1",
        **topics.env(),
    }
    env.update(extra)
    return env


@pytest.fixture
def start_worker(tmp_path):
    """Factory: ``start_worker(env)`` → a running :class:`WorkerProcess`; all are killed at teardown."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str]) -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", free_port()).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()

