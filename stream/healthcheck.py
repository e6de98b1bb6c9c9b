"""The image's Docker HEALTHCHECK: ask the running role's own ``/healthz``.

One image runs every role (``python -m stream worker|notifier|interactivity|sink``),
so the check reads which one from the container's main process (PID 1's
command line) and asks ``/healthz`` on that role's port, from the same
environment variable the role reads. One-shot commands (registry, training,
replay) serve nothing and count as healthy. Standard library only: it runs
every 30 seconds and must not load the application.

    python -m stream.healthcheck [--pid 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

#: role -> (environment variable of its HTTP port, default port)
PORTS = {
    "worker": ("TICKETS_WEB_PORT", 6066),
    "notifier": ("TICKETS_SLACK_METRICS_PORT", 9102),
    "interactivity": ("TICKETS_SLACK_INTERACTIVITY_PORT", 3000),
    "sink": ("TICKETS_SINK_METRICS_PORT", 9103),
}


def role_of(cmdline: list[str]) -> str | None:
    """The ``python -m stream ROLE`` role in a command line, or None."""
    for i in range(len(cmdline) - 2):
        if cmdline[i] == "-m" and cmdline[i + 1] == "stream" and cmdline[i + 2] in PORTS:
            return cmdline[i + 2]
    return None


def read_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode("utf-8", "replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def check(role: str | None, environ=os.environ, timeout_s: float = 4.0) -> tuple[bool, str]:
    """``(healthy, what was asked)``."""
    if role is None:
        return True, "no long-running role: nothing to ask"
    variable, default = PORTS[role]
    port = int(environ.get(variable) or default)
    if port == 0:
        return True, f"{role}: {variable}=0, no HTTP endpoint to ask"
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200, f"{role}: {url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{role}: {url} answered {exc.code}"
    except OSError as exc:
        return False, f"{role}: {url} unreachable ({exc})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, default=1, help="the process whose role is checked (the container's main)")
    args = parser.parse_args(argv)
    healthy, what = check(role_of(read_cmdline(args.pid)))
    print(what, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
