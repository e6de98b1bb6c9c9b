"""A model version's ``manifest.json``: read without numpy, so the registry and the notifier stay light."""
from __future__ import annotations

import json
from pathlib import Path

from .exceptions import ModelLoadError

MANIFEST = "manifest.json"


def read_manifest(version_dir: Path) -> dict:
    """The manifest of ``version_dir``; :class:`ModelLoadError` saying what is missing or unreadable."""
    version_dir = Path(version_dir)
    path = version_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(version_dir, f"{MANIFEST} is missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(version_dir, f"{MANIFEST} is unreadable: {exc}") from None
    for key in ("version", "labels", "feature_blocks"):
        if key not in manifest:
            raise ModelLoadError(version_dir, f"{MANIFEST} has no {key!r}")
    return manifest
