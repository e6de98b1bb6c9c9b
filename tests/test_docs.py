"""Docs that must match the code: every setting the code reads is documented, and nothing more."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ = re.compile(r'env\.(?:str|int|float|bool|json)\(\s*"([A-Z0-9_]+)"')


def settings_read_by_code() -> set[str]:
    names = set()
    for path in (ROOT / "stream").rglob("*.py"):
        names |= {f"TICKETS_{name}" for name in READ.findall(path.read_text())}
    return names


def settings_documented() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `(TICKETS_[A-Z0-9_]+)`", text, flags=re.M))


def test_every_setting_is_documented_and_every_documented_setting_exists():
    code, docs = settings_read_by_code(), settings_documented()
    assert code, "found no settings in the code: the pattern is stale"
    assert code - docs == set(), f"read by the code but not in docs/configuration.md: {sorted(code - docs)}"
    assert docs - code == set(), f"documented but never read: {sorted(docs - code)}"


def test_readme_commands_exist_in_the_makefile():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", readme, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"README runs `make {target}`, Makefile lacks it"
    assert "make demo" in readme and "make test" in readme
