"""The embedder folder's ``manifest.json``: what was built from what, and whether it is still intact."""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_files(folder: Path, skip: tuple[str, ...] = (MANIFEST,)) -> dict[str, str]:
    """``{posix relpath: sha256}`` of every file under ``folder`` (sorted, manifest excluded)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in skip:
            out[rel] = sha256_file(path)
    return out


def tree_sha256(folder: Path) -> str:
    """One sha256 over every file of ``folder`` (paths and contents), to identify an export's source."""
    digest = hashlib.sha256()
    for rel, file_digest in hash_files(Path(folder), skip=()).items():
        digest.update(f"{rel}\0{file_digest}\n".encode())
    return digest.hexdigest()


def write_manifest(folder: Path, fields: dict) -> dict:
    """Write ``manifest.json`` atomically, with the files' hashes and the build time."""
    data = dict(fields)
    data["files"] = hash_files(folder)
    data["built_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return data


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def staleness(folder: Path, *, source_sha256: str, builder_version: str) -> str | None:
    """Why ``folder`` must be rebuilt, or None when its manifest and files are current."""
    manifest = read_manifest(folder)
    if manifest is None:
        return "no readable manifest.json"
    if manifest.get("source_sha256") != source_sha256:
        return "built from a different source file"
    if manifest.get("builder_version") != builder_version:
        return f"built by builder version {manifest.get('builder_version')}, now {builder_version}"
    files = manifest.get("files") or {}
    if not files:
        return "manifest lists no files"
    for rel, digest in files.items():
        path = Path(folder) / rel
        if not path.is_file():
            return f"{rel} is missing"
        if sha256_file(path) != digest:
            return f"{rel} changed since it was built"
    return None
