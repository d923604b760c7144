"""Helpers to compare the whole store before and after a request, and to dump it as text."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from api.store.tables import Base


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the schema (tables.py), the Alembic bookkeeping excluded."""
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in Base.metadata.tables.items()
        }


def dump_text(engine: Engine) -> str:
    """Every row of every table as text: what a `pg_dump --data-only` would let you grep."""
    lines: list[str] = []
    with engine.connect() as connection:
        for name, table in Base.metadata.tables.items():
            for row in connection.execute(select(table)):
                lines.append(f"{name}: {tuple(row)!r}")
    return "\n".join(lines)
