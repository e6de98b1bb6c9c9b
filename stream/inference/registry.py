"""The model registry: immutable version folders plus an atomic ``PROMOTED`` pointer.

Serving reads the pointer (and watches it); training writes versions; the
``registry`` CLI moves the pointer. Every pointer change is a write to a
temporary file followed by ``os.replace``, so a reader sees the old or the new
version id, never half a line. ``HISTORY`` logs promotions so that a rollback
knows where to go back to.
"""
from __future__ import annotations

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

PROMOTED = "PROMOTED"
HISTORY = "HISTORY"


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


@dataclass(frozen=True)
class VersionInfo:
    """One line of ``registry list``."""

    version: str
    created_at: str
    promoted: bool
    accuracy: float | None
    macro_f1: float | None
    n_labels: int


class Registry:
    """A folder of model versions. ``embedder_dir`` lets promotion check the full load."""

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

    def promoted_version(self) -> str | None:
        try:
            text = (self.root / PROMOTED).read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def promoted(self) -> Path | None:
        """The folder of the promoted version, or None when nothing (valid) is promoted."""
        version = self.promoted_version()
        if version is None:
            return None
        path = self.root / version
        if not path.is_dir():
            log.error("PROMOTED points at a version that is not in the registry", extra={"version": version,
                                                                                    "registry": str(self.root)})
            return None
        return path

    def list(self) -> list[VersionInfo]:
        current = self.promoted_version()
        out = []
        for version in self.versions():
            try:
                manifest = read_manifest(self.root / version)
            except ModelLoadError:
                continue
            metrics = manifest.get("metrics") or {}
            out.append(VersionInfo(version=version, created_at=manifest.get("created_at", ""),
                                   promoted=version == current, accuracy=metrics.get("accuracy"),
                                   macro_f1=metrics.get("macro_f1"), n_labels=len(manifest["labels"])))
        return out

    def history(self) -> list[dict]:
        try:
            lines = (self.root / HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

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

    def promote(self, version: str, *, action: str = "promote") -> None:
        self.check(version)
        self._point_to(version, action)

    def rollback(self) -> str:
        """Go back to the version promoted before the current one; returns it."""
        stack = self._stack()
        if len(stack) < 2:
            raise RegistryError("nothing to roll back to: fewer than two promotions in HISTORY")
        target = stack[-2]
        self.check(target)
        self._point_to(target, "rollback")
        return target

    def _stack(self) -> list[str]:
        stack: list[str] = []
        for entry in self.history():
            if entry["action"] == "rollback":
                if stack:
                    stack.pop()
            else:
                stack.append(entry["version"])
        return stack

    def _point_to(self, version: str, action: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": action,
                 "version": version, "previous": self.promoted_version()}
        history = self.root / HISTORY
        old = history.read_text() if history.exists() else ""
        atomic_write_text(history, old + json.dumps(entry) + "\n")
        atomic_write_text(self.root / PROMOTED, version + "\n")
        log.info("PROMOTED moved", extra={"action": action, "version": version, "previous": entry["previous"]})
