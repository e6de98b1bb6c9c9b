"""Registry aliases: champion = the PROMOTED pointer, challenger beside it, every change in HISTORY."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading

import pytest

from stream.inference.exceptions import PromotionRefusedError, RegistryError
from stream.inference.registry import CHALLENGER, CHAMPION, HISTORY, PROMOTED, Registry


def _clone(root, version, new_version):
    shutil.copytree(root / version, root / new_version)
    manifest = json.loads((root / new_version / "manifest.json").read_text())
    manifest["version"] = new_version
    (root / new_version / "manifest.json").write_text(json.dumps(manifest))
    return new_version


def test_champion_is_the_promoted_pointer_and_challenger_sits_beside_it(registry_copy):
    root, a = registry_copy
    b = _clone(root, a, "20990101T000001Z-bbbbbb")
    reg = Registry(root)
    assert reg.aliases() == {}
    reg.promote(a)
    reg.set_alias(CHALLENGER, b, reason="passed the gate", details={"accuracy": 0.91, "n": 400})
    assert reg.aliases() == {CHAMPION: a, CHALLENGER: b}
    assert (root / PROMOTED).read_text() == a + "\n" and reg.promoted() == root / a
    assert reg.alias_dir(CHALLENGER) == root / b
    assert {r.version: r.aliases for r in reg.list()} == {a: (CHAMPION,), b: (CHALLENGER,)}
    last = reg.history()[-1]
    assert (last["alias"], last["action"], last["version"], last["previous"]) == (CHALLENGER, "set", b, None)
    assert last["reason"] == "passed the gate" and last["details"] == {"accuracy": 0.91, "n": 400}
    assert last["by"] and last["at"]
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_unset_removes_the_challenger_but_never_the_champion(registry_copy):
    root, a = registry_copy
    reg = Registry(root)
    reg.promote(a)
    reg.set_alias(CHALLENGER, a)
    entry = reg.unset_alias(CHALLENGER, reason="lost the comparison", by="retrain-cronjob")
    assert entry["previous"] == a and entry["version"] is None and entry["by"] == "retrain-cronjob"
    assert reg.aliases() == {CHAMPION: a}
    assert reg.unset_alias(CHALLENGER) is None            # nothing to unset: nothing written
    assert len(reg.history()) == 3
    with pytest.raises(RegistryError, match="champion cannot be unset"):
        reg.unset_alias(CHAMPION)
    with pytest.raises(RegistryError, match="unknown alias"):
        reg.set_alias("staging", a)
    assert reg.promoted_version() == a


def test_a_challenger_that_does_not_load_is_refused(registry_copy):
    root, a = registry_copy
    broken = _clone(root, a, "20990101T000001Z-broken")
    (root / broken / "booster.txt").write_text("not a booster")
    reg = Registry(root)
    with pytest.raises(PromotionRefusedError):
        reg.set_alias(CHALLENGER, broken)
    assert reg.aliases() == {} and reg.history() == []


def test_a_pre_alias_registry_loads_and_rolls_back_past_challenger_moves(registry_copy):
    """Old HISTORY lines have no alias (they were champion moves); challenger moves never enter the rollback."""
    root, a = registry_copy
    b = _clone(root, a, "20990101T000001Z-bbbbbb")
    (root / PROMOTED).write_text(b + "\n")
    old = [{"at": "2026-11-01T00:00:00+00:00", "action": "promote", "version": a, "previous": None},
           {"at": "2026-11-02T00:00:00+00:00", "action": "promote", "version": b, "previous": a}]
    (root / HISTORY).write_text("".join(json.dumps(e) + "\n" for e in old))
    reg = Registry(root)
    assert reg.aliases() == {CHAMPION: b}
    assert [e["alias"] for e in reg.history()] == [CHAMPION, CHAMPION]
    reg.set_alias(CHALLENGER, a)
    assert reg.rollback() == a and reg.promoted_version() == a
    assert reg.alias_version(CHALLENGER) == a
    assert [e["action"] for e in reg.history(CHAMPION)] == ["promote", "promote", "rollback"]
    assert (root / HISTORY).read_text().startswith(json.dumps(old[0]) + "\n")   # appended, never rewritten


def test_concurrent_alias_changes_each_leave_one_history_line(registry_copy):
    root, a = registry_copy
    versions = [_clone(root, a, f"20990101T00000{i}Z-cccccc") for i in range(4)]
    errors = []

    def move(v):
        try:
            Registry(root).set_alias(CHALLENGER, v)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    history = Registry(root).history(CHALLENGER)
    assert sorted(e["version"] for e in history) == sorted(versions)
    # Serialised by the lock: each change saw the one before it as its previous version.
    assert [e["previous"] for e in history] == [None] + [e["version"] for e in history[:-1]]
    assert Registry(root).alias_version(CHALLENGER) == history[-1]["version"]


def test_registry_alias_cli(registry_copy):
    root, a = registry_copy
    b = _clone(root, a, "20990101T000001Z-bbbbbb")
    cmd = [sys.executable, "-m", "stream", "registry", "--registry", str(root)]

    def run(*args):
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)

    assert run("promote", a, "--reason", "first model").returncode == 0
    ok = run("alias", "set", "challenger", b, "--reason", "candidate", "--by", "alice")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(run("alias", "show", "--json").stdout) == {"champion": a, "challenger": b}
    history = json.loads(run("history", "--json").stdout)
    assert [(e["alias"], e["by"], e["reason"]) for e in history][-1] == ("challenger", "alice", "candidate")
    assert history[0]["reason"] == "first model"
    assert run("alias", "unset", "challenger").returncode == 0
    refused = run("alias", "unset", "champion")
    assert refused.returncode == 2 and "cannot be unset" in refused.stderr
    assert json.loads(run("alias", "show", "--json").stdout) == {"champion": a}
    assert run("alias", "set", "champion", b).returncode == 0
    assert (root / PROMOTED).read_text().strip() == b
    listed = run("list")
    assert b in listed.stdout and "champion" in listed.stdout
