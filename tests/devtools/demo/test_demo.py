"""The README's main command, in its short non-interactive form, over real processes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stream.devtools.broker import free_port

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def _demo_env(tmp_path: Path, trained_registry, e5_embedders_root) -> tuple[dict, int]:
    registry, _ = trained_registry
    private = tmp_path / "registry"
    shutil.copytree(registry, private)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETS_")}
    port = free_port()
    env.update(TICKETS_REGISTRY_DIR=str(private), TICKETS_EMBEDDER_DIR=str(e5_embedders_root),
               TICKETS_WEB_PORT=str(port))
    return env, port


def _run_demo(env: dict, work: Path, tickets: int):
    """One short demo run (12 tickets/s); returns the finished process and its summary JSON."""
    summary_file = work.parent / "summary.json"
    result = subprocess.run(
        [sys.executable, "-m", "stream", "demo", "--tickets", str(tickets), "--rate", "12", "--holdout", "300",
         "--work-dir", str(work), "--summary-json", str(summary_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(summary_file.read_text())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _assert_nothing_left(work: Path, port: int) -> None:
    pids = json.loads((work / "pids.json").read_text())
    assert set(pids) >= {"broker", "worker", "notifier", "sink", "snowflake-local"}
    leftovers = {name: pid for name, pid in pids.items() if _alive(pid)}
    assert not leftovers, f"processes outlived the demo: {leftovers}"
    with socket.socket() as sock:
        # SO_REUSEADDR ignores TIME_WAIT leftovers of closed connections, not a live listener.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # raises if the worker's HTTP port is still held


def test_demo_classifies_held_out_tickets_and_reports_a_truthful_summary(
        tmp_path, trained_registry, e5_embedders_root):
    env, port = _demo_env(tmp_path, trained_registry, e5_embedders_root)
    work = tmp_path / "work"
    result, summary = _run_demo(env, work, tickets=24)
    assert summary["sent"] == 24
    assert summary["processed"] == 24 and summary["missing"] == 0
    assert summary["dead_letters"] == 0
    assert summary["sink_rows"] == 24, "every classified ticket reaches the Snowflake emulation"
    assert summary["slack_messages"] == 24, "every classified ticket is (dry-run) posted once"
    assert summary["model_version"] == trained_registry[1]
    # A real model on real held-out tickets: far better than the 1-in-8 of chance, and top-2 ≥ top-1.
    assert summary["accuracy"] > 0.4
    assert summary["precision_at_2"] >= summary["accuracy"]
    assert summary["p50_end_to_end_ms"] <= summary["p99_end_to_end_ms"]
    assert "Summary" in result.stdout and "/classify" in result.stdout
    # The fixture model was sampled from all tickets, so the demo must not call its figures held-out.
    assert "held-out figures only if this model was trained without" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "demo-" in line]
    assert len(lines) == 24, "one live line per ticket"
    held_out = (work / "split" / "holdout.csv.gz")
    trained_on = (work / "split" / "train.csv.gz")
    assert held_out.is_file() and trained_on.is_file()
    _assert_nothing_left(work, port)

    # Run it again in the same work folder with the same model: the summary must describe this
    # run, not add up leftovers (sink rows) or be hidden by them (Slack's dedupe store).
    _, summary = _run_demo(env, work, tickets=10)
    assert (summary["processed"], summary["sink_rows"], summary["slack_messages"]) == (10, 10, 10)
    _assert_nothing_left(work, port)


def test_ctrl_c_stops_every_process(tmp_path, trained_registry, e5_embedders_root):
    env, port = _demo_env(tmp_path, trained_registry, e5_embedders_root)
    work = tmp_path / "work"
    demo = subprocess.Popen(
        [sys.executable, "-m", "stream", "demo", "--tickets", "5", "--rate", "10", "--holdout", "300",
         "--work-dir", str(work), "--keep-running", "--quiet"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen = []
    deadline = time.monotonic() + 300
    try:
        for line in demo.stdout:
            seen.append(line)
            if "Still running" in line or time.monotonic() > deadline:
                break
        assert any("Still running" in line for line in seen), "".join(seen[-40:])
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, rest
    assert "stopped" in rest
    _assert_nothing_left(work, port)


def test_demo_keeps_its_own_registry_unless_one_is_named(tmp_path):
    """`make train`'s model has seen the demo's held-out tickets: the demo must not pick it up by default."""
    from stream.devtools.demo.run import demo_registry

    assert demo_registry(tmp_path, {}) == (str(tmp_path / "registry"), True)
    assert demo_registry(tmp_path, {"TICKETS_REGISTRY_DIR": "/srv/models"}) == ("/srv/models", False)
