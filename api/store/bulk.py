"""Dialect-aware bulk writes: INSERT ... ON CONFLICT through executemany, in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, case, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Rows per executemany call: big enough to amortise round trips, small enough to keep
# statement memory flat on 100k-row imports.
CHUNK = 2_000

T = TypeVar("T")


def chunks(rows: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def refresh_planner_statistics(session: Session) -> None:
    """ANALYZE the tables a bulk load filled, on PostgreSQL. Until autovacuum gets to a freshly
    loaded table (a minute or more; never where it is off) the planner has no statistics and
    guesses a third of the rows for a range: serving's poll for events after its watermark
    then scanned all 2M events twice a second per worker (0.3 cores of PostgreSQL, idle)."""
    if is_postgresql(session):
        session.execute(text("ANALYZE users, items, events"))


def insert_for(session: Session, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT for the session's backend."""
    if is_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    session: Session,
    table: Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    update: Sequence[str],
    change_stamps: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Insert rows; on a key conflict overwrite exactly the columns in `update`.

    `change_stamps` maps a timestamp column to the columns it watches: on a conflict it takes
    the row's new value only when one of the watched columns being updated really changes
    value (NULL-safe), and keeps its old value otherwise.
    """
    if not rows:
        return
    statement = insert_for(session, table)
    set_: dict[str, Any] = {column: statement.excluded[column] for column in update}
    for stamp, watched in (change_stamps or {}).items():
        changes = [
            table.c[c].is_distinct_from(statement.excluded[c]) for c in watched if c in update
        ]
        if changes:
            set_[stamp] = case((or_(*changes), statement.excluded[stamp]), else_=table.c[stamp])
    statement = statement.on_conflict_do_update(index_elements=[table.c[key]], set_=set_)
    for chunk in chunks(rows):
        session.execute(statement, list(chunk))


def insert_missing(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows whose key is not there yet; leave existing rows alone."""
    if not rows:
        return
    statement = insert_for(session, table).on_conflict_do_nothing()
    for chunk in chunks(rows):
        session.execute(statement, list(chunk))


def merge_by_id(records: Sequence[Mapping[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """Collapse records sharing a key; later fields override earlier ones."""
    merged: dict[Any, dict[str, Any]] = {}
    for record in records:
        merged.setdefault(record[key], {}).update(record)
    return list(merged.values())


def group_by_fields(
    records: Sequence[Mapping[str, Any]],
) -> dict[frozenset[str], list[Mapping[str, Any]]]:
    """Records grouped by the set of fields they carry: one statement per shape."""
    groups: dict[frozenset[str], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(frozenset(record), []).append(record)
    return groups
