"""A model version's manifest: what says a directory is a complete version. Apart from
matching.artifact so that what only checks a version (matching.erasure, run by a short-lived
purge process) does not import the model and its libraries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class IncompleteArtifact(RuntimeError):
    """The directory is not a complete model version (no manifest, or files missing)."""


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IncompleteArtifact(f"{directory}: no readable manifest ({exc})") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IncompleteArtifact(
            f"{directory}: unsupported format {manifest.get('format_version')}"
        )
    missing = [name for name in manifest.get("files", []) if not (Path(directory) / name).is_file()]
    if missing or not manifest.get("files"):
        raise IncompleteArtifact(f"{directory}: missing files {missing[:5]}")
    return manifest
