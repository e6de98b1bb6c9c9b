"""The model registry: immutable version folders, alias pointers and an append-only history.

Serving reads the aliases (and watches them); training writes versions; the
``registry`` CLI moves the aliases. Two aliases exist, as in MLflow's model
aliases: ``champion`` (the version that answers) and ``challenger`` (a candidate
scored on live traffic beside it, see the worker's champion/challenger modes).
Each alias is one pointer file holding a version id; the champion's file is
still called ``PROMOTED``, so registries written before aliases existed load
unchanged and ``promote`` is simply "set champion".

Every pointer change is a write to a temporary file followed by ``os.replace``,
so a reader sees the old or the new version id, never half a line. Changes are
serialised by a lock file, and each one appends a JSON line to ``HISTORY``
(when, who, why, which alias, from which version to which, and any numbers the
caller wants kept) so that a rollback knows where to go back to and an audit
knows why.
"""
from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .exceptions import ModelLoadError, PromotionRefusedError, RegistryError, VersionNotFoundError
from .manifest import MANIFEST, read_manifest

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PROMOTED = "PROMOTED"
HISTORY = "HISTORY"
LOCK = ".lock"
#: Alias → its pointer file. The champion keeps the pre-alias name, so nothing needs migrating.
ALIAS_FILES = {CHAMPION: PROMOTED, CHALLENGER: "CHALLENGER"}
#: Who changed an alias, when the caller does not say (the CronJob sets it).
ACTOR_ENV = "TICKETS_REGISTRY_ACTOR"


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing: temp file in the same folder, fsync, rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: Path, line: str) -> None:
    """Append one line with a single ``write`` on an ``O_APPEND`` descriptor, then fsync: never rewrite history."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _actor() -> str:
    try:
        return os.environ.get(ACTOR_ENV) or getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry for the uid (containers): still record something
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class VersionInfo:
    """One line of ``registry list``."""

    version: str
    created_at: str
    promoted: bool
    accuracy: float | None
    macro_f1: float | None
    n_labels: int
    aliases: tuple[str, ...] = ()


class Registry:
    """A folder of model versions. ``embedder_dir`` lets an alias change check the full load."""

    def __init__(self, root, embedder_dir=None):
        self.root = Path(root).expanduser()
        self.embedder_dir = embedder_dir

    # ---- reading -----------------------------------------------------------------
    def versions(self) -> list[str]:
        """Version ids, oldest first (ids start with a UTC timestamp, so names sort by time)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file())

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith(".") or not (self.root / version).is_dir():
            raise VersionNotFoundError(version, self.root)
        return self.root / version

    def show(self, version: str) -> dict:
        return read_manifest(self.path(version))

    def alias_version(self, alias: str) -> str | None:
        """The version id ``alias`` points at, or None when it is not set."""
        try:
            text = (self.root / _alias_file(alias)).read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def alias_dir(self, alias: str) -> Path | None:
        """The folder of the version ``alias`` points at, or None when unset or pointing at nothing."""
        version = self.alias_version(alias)
        if version is None:
            return None
        path = self.root / version
        if not path.is_dir():
            log.error("an alias points at a version that is not in the registry",
                      extra={"alias": alias, "version": version, "registry": str(self.root)})
            return None
        return path

    def aliases(self) -> dict[str, str]:
        """Alias → version id, for the aliases that are set."""
        return {alias: v for alias in ALIAS_FILES if (v := self.alias_version(alias)) is not None}

    def promoted_version(self) -> str | None:
        return self.alias_version(CHAMPION)

    def promoted(self) -> Path | None:
        """The folder of the champion (the promoted version), or None when nothing (valid) is promoted."""
        return self.alias_dir(CHAMPION)

    def list(self) -> list[VersionInfo]:
        aliases = self.aliases()
        out = []
        for version in self.versions():
            try:
                manifest = read_manifest(self.root / version)
            except ModelLoadError:
                continue
            metrics = manifest.get("metrics") or {}
            out.append(VersionInfo(version=version, created_at=manifest.get("created_at", ""),
                                   promoted=aliases.get(CHAMPION) == version, accuracy=metrics.get("accuracy"),
                                   macro_f1=metrics.get("macro_f1"), n_labels=len(manifest["labels"]),
                                   aliases=tuple(a for a, v in aliases.items() if v == version)))
        return out

    def history(self, alias: str | None = None) -> list[dict]:
        """Every alias change, oldest first; entries written before aliases existed read as the champion's."""
        try:
            lines = (self.root / HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            entry.setdefault("alias", CHAMPION)
            if alias is None or entry["alias"] == alias:
                entries.append(entry)
        return entries

    # ---- writing -----------------------------------------------------------------
    def check(self, version: str):
        """Load the version as serving would; refuse it with the reason when that fails.

        The only method that needs numpy & co.: the predictor is imported here, not at module level.
        """
        from .predictor import Predictor

        path = self.path(version)
        try:
            return Predictor.load(path, self.embedder_dir, load_embedder=self.embedder_dir is not None)
        except ModelLoadError as exc:
            raise PromotionRefusedError(version, exc.reason) from exc

    def set_alias(self, alias: str, version: str, *, reason: str = "", details: dict | None = None,
                  by: str | None = None, action: str = "set") -> dict:
        """Point ``alias`` at ``version`` once it loads as serving would; returns the history entry."""
        _alias_file(alias)
        self.check(version)
        return self._move(alias, version, action=action, reason=reason, details=details, by=by)

    def unset_alias(self, alias: str, *, reason: str = "", details: dict | None = None,
                    by: str | None = None) -> dict | None:
        """Remove ``alias`` (the challenger: the champion can only be replaced or rolled back)."""
        if _alias_file(alias) == PROMOTED:
            raise RegistryError("the champion cannot be unset (workers would have nothing to serve): "
                                "promote another version or roll back")
        return self._move(alias, None, action="unset", reason=reason, details=details, by=by)

    def promote(self, version: str, *, action: str = "promote", reason: str = "", details: dict | None = None,
                by: str | None = None) -> dict:
        """Make ``version`` the champion."""
        return self.set_alias(CHAMPION, version, action=action, reason=reason, details=details, by=by)

    def rollback(self, *, reason: str = "", by: str | None = None) -> str:
        """Point the champion back at the version it had before the current one; returns it."""
        stack = self._stack()
        if len(stack) < 2:
            raise RegistryError("nothing to roll back to: fewer than two promotions in HISTORY")
        target = stack[-2]
        self.check(target)
        self._move(CHAMPION, target, action="rollback", reason=reason, details=None, by=by)
        return target

    def record(self, alias: str, action: str, *, reason: str = "", details: dict | None = None,
               by: str | None = None) -> dict:
        """Append a decision that moved no alias (a refused candidate, a challenger still on trial) to HISTORY.

        ``version`` and ``previous`` are both the alias's current version, so replaying the history
        still gives every alias's value; ``details`` says what was decided about which version.
        """
        _alias_file(alias)
        with self._locked():
            current = self.alias_version(alias)
            entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": action,
                     "alias": alias, "version": current, "previous": current, "moved": False,
                     "by": by or _actor()}
            if reason:
                entry["reason"] = reason
            if details:
                entry["details"] = details
            append_line(self.root / HISTORY, json.dumps(entry, default=str))
        log.info("decision recorded", extra={"alias": alias, "action": action, "reason": reason})
        return entry

    def _stack(self) -> list[str]:
        stack: list[str] = []
        for entry in self.history(CHAMPION):
            if entry["action"] == "rollback":
                if stack:
                    stack.pop()
            elif entry.get("version") and entry.get("moved", True):
                stack.append(entry["version"])
        return stack

    @contextlib.contextmanager
    def _locked(self):
        """One alias change at a time (the promote Job and the retrain CronJob may overlap)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _move(self, alias: str, version: str | None, *, action: str, reason: str, details: dict | None,
              by: str | None) -> dict | None:
        pointer = self.root / _alias_file(alias)
        with self._locked():
            previous = self.alias_version(alias)
            if version is None and previous is None:
                return None
            entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": action,
                     "alias": alias, "version": version, "previous": previous, "by": by or _actor()}
            if reason:
                entry["reason"] = reason
            if details:
                entry["details"] = details
            line = json.dumps(entry, sort_keys=False, default=str)
            if version is None:
                pointer.unlink(missing_ok=True)
            else:
                atomic_write_text(pointer, version + "\n")
            append_line(self.root / HISTORY, line)
        log.info("alias moved", extra={"alias": alias, "action": action, "version": version, "previous": previous})
        return entry


def _alias_file(alias: str) -> str:
    try:
        return ALIAS_FILES[alias]
    except KeyError:
        raise RegistryError(f"unknown alias {alias!r}: known aliases are {', '.join(ALIAS_FILES)}") from None
