"""Registry: listing, atomic promotion, refusal of broken versions, rollback."""
from __future__ import annotations

import json
import shutil

import pytest

from stream.inference.exceptions import PromotionRefusedError, RegistryError, VersionNotFoundError
from stream.inference.registry import HISTORY, PROMOTED, Registry


def _clone(registry_dir, version, new_version):
    """A second version: same artifact under another id (manifest rewritten)."""
    shutil.copytree(registry_dir / version, registry_dir / new_version)
    manifest = json.loads((registry_dir / new_version / "manifest.json").read_text())
    manifest["version"] = new_version
    (registry_dir / new_version / "manifest.json").write_text(json.dumps(manifest))
    return new_version


def test_empty_registry(tmp_path):
    reg = Registry(tmp_path / "nothing-here")
    assert reg.versions() == [] and reg.list() == [] and reg.promoted() is None
    with pytest.raises(RegistryError):
        reg.rollback()


def test_promote_writes_pointer_atomically_and_lists_it(registry_copy):
    root, version = registry_copy
    reg = Registry(root)
    assert reg.promoted() is None
    reg.promote(version)
    assert (root / PROMOTED).read_text() == version + "\n"
    assert reg.promoted() == root / version
    assert [v.promoted for v in reg.list()] == [True]
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]  # no temp files left behind
    assert reg.history()[-1]["version"] == version


def test_unknown_version_cannot_be_promoted(registry_copy):
    root, _ = registry_copy
    with pytest.raises(VersionNotFoundError):
        Registry(root).promote("20990101T000000Z-ffffff")
    with pytest.raises(VersionNotFoundError):
        Registry(root).promote("../etc")


@pytest.mark.parametrize("damage, reason", [
    (lambda d: (d / "booster.txt").unlink(), "missing file(s): booster.txt"),
    (lambda d: (d / "lexical.joblib").unlink(), "missing file(s): lexical.joblib"),
    (lambda d: (d / "booster.txt").write_text("not a booster"), "does not match its sha256"),
    (lambda d: (d / "manifest.json").write_text("{"), "manifest.json is unreadable"),
])
def test_broken_version_is_refused_and_pointer_unchanged(registry_copy, damage, reason):
    root, version = registry_copy
    reg = Registry(root)
    reg.promote(version)
    broken = _clone(root, version, "20990101T000000Z-broken")
    damage(root / broken)
    with pytest.raises((PromotionRefusedError, RegistryError)) as err:
        reg.promote(broken)
    assert reason in str(err.value)
    assert reg.promoted_version() == version


def test_rollback_walks_back_through_promotions(registry_copy):
    root, a = registry_copy
    b = _clone(root, a, "20990101T000001Z-bbbbbb")
    c = _clone(root, a, "20990101T000002Z-cccccc")
    reg = Registry(root)
    for v in (a, b, c):
        reg.promote(v)
    assert reg.rollback() == b and reg.promoted_version() == b
    assert reg.rollback() == a and reg.promoted_version() == a
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()
    assert [e["action"] for e in reg.history()] == ["promote"] * 3 + ["rollback"] * 2
    assert (root / HISTORY).is_file()


def test_staging_folders_are_not_versions(registry_copy):
    root, version = registry_copy
    (root / ".staging-abc").mkdir()
    (root / "stray-folder").mkdir()  # no manifest: not a version
    assert Registry(root).versions() == [version]


def test_pointer_to_a_deleted_version_reads_as_nothing_promoted(registry_copy):
    root, version = registry_copy
    reg = Registry(root)
    reg.promote(version)
    shutil.rmtree(root / version)
    assert reg.promoted() is None


def test_promotion_checks_the_embedder_when_given(trained_registry, tmp_path, e5_embedders_root):
    root, version = trained_registry
    copy = tmp_path / "reg"
    shutil.copytree(root / version, copy / version)
    manifest = json.loads((copy / version / "manifest.json").read_text())
    manifest["embedder"]["sha256"] = "0" * 64
    (copy / version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PromotionRefusedError, match="embedder sha256 mismatch"):
        Registry(copy, e5_embedders_root).promote(version)
    Registry(copy).promote(version)  # without an embedder dir only the artifact itself is checked


def test_the_registry_and_its_listing_import_no_numpy(registry_copy):
    """The notifier and `stream registry list` read the registry without the inference stack."""
    import subprocess
    import sys

    root, version = registry_copy
    code = ("import sys; from stream.inference.registry import Registry; "
            f"rows = Registry({str(root)!r}).list(); "
            "assert 'numpy' not in sys.modules, 'numpy imported'; print(rows[0].version)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == version


def test_stream_registry_command_promotes_and_refuses_a_missing_version(registry_copy, tmp_path):
    """`python -m stream registry promote` is what the Helm promote Job runs from the serving image."""
    import subprocess
    import sys

    root, version = registry_copy
    cmd = [sys.executable, "-m", "stream", "registry", "--registry", str(root)]
    ok = subprocess.run(cmd + ["promote", version], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (root / PROMOTED).read_text().strip() == version
    bad = subprocess.run(cmd + ["promote", "no-such-version"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no-such-version" in bad.stderr
    listed = subprocess.run(cmd + ["list", "--json"], capture_output=True, text=True, timeout=120)
    assert [row["version"] for row in json.loads(listed.stdout) if row["promoted"]] == [version]
