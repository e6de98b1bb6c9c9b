"""Stopping a child process: ask (SIGTERM), wait, then insist (SIGKILL). One way, used everywhere."""
from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen | None, timeout_s: float = 10.0) -> int | None:
    """Terminate ``process`` and wait up to ``timeout_s``; kill it if it is still there. Its exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
