"""The repository stands alone: the docs it ships are current and point only inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.config_reference import render_configuration_reference
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and <target>; targets with a scheme are checked separately.
LINK = re.compile(r"\]\(([^)\s]+)\)|<((?:https?://|\.\.?/)[^>\s]+)>")


def test_configuration_reference_is_current() -> None:
    stored = ROOT / "docs" / "configuration.md"
    assert stored.is_file(), "docs/configuration.md is missing: run `make docs`"
    assert stored.read_text(encoding="utf-8") == render_configuration_reference(), (
        "docs/configuration.md is stale: run `make docs` and commit it"
    )


def test_every_setting_is_explained() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_links_stay_inside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if target.startswith(("http://127.0.0.1", "http://localhost", "#")):
            continue
        assert "://" not in target, f"{document.name} links outside the repository: {target}"
        resolved = (document.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name}: {target} leaves the repository"
        assert resolved.exists(), f"{document.name}: {target} does not exist"
