"""matching/ is pure science: it never imports the service layer or its frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

MATCHING = Path(__file__).resolve().parents[1] / "matching"
FORBIDDEN = {"api", "fastapi", "sqlalchemy", "starlette", "alembic", "uvicorn", "psycopg"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_matching_never_imports_the_service_layer() -> None:
    files = sorted(MATCHING.rglob("*.py"))
    assert files, "matching/ has no modules"
    offenders = {
        str(path.relative_to(MATCHING.parent)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in files
        if _imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_scan_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import numpy\nfrom sqlalchemy.orm import Session\nfrom . import x\n")
    assert _imported_roots(sample) == {"numpy", "sqlalchemy"}
