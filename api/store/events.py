"""Events: idempotent bulk insert and the per-user reads serving needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from api.store.bulk import chunks, insert_for, is_postgresql
from api.store.freshness import EventRow, changes_after
from api.store.items import ensure_items
from api.store.tables import Event, utcnow
from api.store.users import ensure_users

EVENT_FIELDS = ("event_id", "user_id", "item_id", "type", "value", "ts")


@dataclass(frozen=True, slots=True)
class InsertedEvents:
    accepted: int
    duplicates: int  # already stored, or repeated within the same call
    rows: tuple[EventRow, ...] = ()  # the stored rows, when asked for (keep_rows)


def insert_events(
    session: Session, records: Sequence[Mapping[str, Any]], *, keep_rows: bool = False
) -> InsertedEvents:
    """Store events once per event_id; create unknown users and items on the way.

    Records carry EVENT_FIELDS with `ts` timezone-aware. A repeated event_id, in this call
    or stored earlier, is counted as a duplicate and not written again (first one wins).
    `keep_rows`: return the stored rows as the live state reads them (api.live), so the
    process that wrote them can apply them without reading them back; not for bulk loads.
    """
    first_by_id: dict[str, Mapping[str, Any]] = {}
    for record in records:
        first_by_id.setdefault(record["event_id"], record)
    unique = list(first_by_id.values())
    ensure_users(session, (record["user_id"] for record in unique))
    ensure_items(session, (record["item_id"] for record in unique))
    if any(record["ts"].tzinfo is None for record in unique):
        raise ValueError("event ts must be timezone-aware")
    ingested_at = utcnow()
    if is_postgresql(session):
        stored = _insert_postgresql(session, unique, ingested_at, keep_rows=keep_rows)
    else:
        stored = _insert_sqlite(session, unique, ingested_at)
    accepted = stored if isinstance(stored, int) else len(stored)
    rows: tuple[EventRow, ...] = ()
    if keep_rows and not isinstance(stored, int):
        rows = tuple(
            _as_read(pk, first_by_id[event_id], ingested_at) for pk, event_id in sorted(stored)
        )
    return InsertedEvents(accepted=accepted, duplicates=len(records) - accepted, rows=rows)


def _as_read(pk: int, record: Mapping[str, Any], ingested_at: datetime) -> EventRow:
    """A stored event exactly as reading it back gives it (UTC, a float value)."""
    value = record.get("value")
    return EventRow(
        pk,
        record["user_id"],
        record["item_id"],
        record["type"],
        None if value is None else float(value),
        record["ts"].astimezone(UTC),
        ingested_at,
    )


def _insert_sqlite(
    session: Session, records: Sequence[Mapping[str, Any]], ingested_at: datetime
) -> list[tuple[int, str]]:
    statement = (
        insert_for(session, Event.__table__)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(Event.__table__.c.pk, Event.__table__.c.event_id)
    )
    stored: list[tuple[int, str]] = []
    for chunk in chunks(records):
        rows = [
            {**{field: record.get(field) for field in EVENT_FIELDS}, "ingested_at": ingested_at}
            for record in chunk
        ]
        # RETURNING through insertmanyvalues: one multi-row statement per batch, and the
        # returned rows are exactly the inserted ones, so duplicates are counted exactly.
        stored.extend((int(pk), event_id) for pk, event_id in session.execute(statement, rows))
    return stored


# PostgreSQL: each column as one array parameter, unnest()ed into a single INSERT; the CTE
# counts the rows actually inserted (or returns their ids, for the writer's live state).
# Measured 5-10x faster than multi-row VALUES here.
_INSERT_EVENTS_POSTGRESQL = (
    "WITH inserted AS ("
    " INSERT INTO events (event_id, user_id, item_id, type, value, ts, ingested_at)"
    " SELECT *, CAST(:ingested_at AS timestamptz) FROM unnest(CAST(:event_id AS varchar[]),"
    "  CAST(:user_id AS varchar[]), CAST(:item_id AS varchar[]), CAST(:type AS varchar[]),"
    "  CAST(:value AS float8[]), CAST(:ts AS timestamptz[]))"
    " ON CONFLICT (event_id) DO NOTHING RETURNING pk, event_id"
    ") "
)
_COUNT_INSERTED_POSTGRESQL = text(_INSERT_EVENTS_POSTGRESQL + "SELECT count(*) FROM inserted")
_LIST_INSERTED_POSTGRESQL = text(_INSERT_EVENTS_POSTGRESQL + "SELECT pk, event_id FROM inserted")


def _insert_postgresql(
    session: Session,
    records: Sequence[Mapping[str, Any]],
    ingested_at: datetime,
    *,
    keep_rows: bool,
) -> int | list[tuple[int, str]]:
    accepted, stored = 0, list[tuple[int, str]]()
    for chunk in chunks(records, 10_000):
        columns: dict[str, Any] = {
            field: [record.get(field) for record in chunk] for field in EVENT_FIELDS
        }
        columns["ingested_at"] = ingested_at
        if keep_rows:
            stored.extend(
                (int(pk), event_id)
                for pk, event_id in session.execute(_LIST_INSERTED_POSTGRESQL, columns)
            )
        else:
            accepted += int(session.execute(_COUNT_INSERTED_POSTGRESQL, columns).scalar_one())
    return stored if keep_rows else accepted


def events_of_user(
    session: Session, user_id: str, since: datetime | None = None, limit: int | None = None
) -> list[Event]:
    """A user's events, newest first, optionally only those at or after `since`."""
    query = select(Event).where(Event.user_id == user_id).order_by(Event.ts.desc())
    if since is not None:
        query = query.where(Event.ts >= since)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _outside_snapshot(snapshot_time: datetime) -> ColumnElement[bool]:
    """Events a snapshot taken at `snapshot_time` may not contain: received after it (late
    arrivals with old timestamps included; api.store.freshness on the margin) or dated after
    it (the snapshot reads events up to its time)."""
    return or_(Event.ingested_at >= changes_after(snapshot_time), Event.ts > snapshot_time)


def seen_item_ids(
    session: Session, user_id: str, *, outside_snapshot: datetime | None = None
) -> set[str]:
    """Items a user interacted with: what exclude_seen excludes. With `outside_snapshot`, only
    those a model trained on that snapshot may not know about (it knows the rest)."""
    query = select(Event.item_id).where(Event.user_id == user_id).distinct()
    if outside_snapshot is not None:
        query = query.where(_outside_snapshot(outside_snapshot))
    return set(session.scalars(query))


def users_who_saw_item(
    session: Session, item_id: str, *, outside_snapshot: datetime | None = None
) -> set[str]:
    """Users with an event on an item: what an audience's exclude_seen excludes. With
    `outside_snapshot`, as for seen_item_ids."""
    query = select(Event.user_id).where(Event.item_id == item_id).distinct()
    if outside_snapshot is not None:
        query = query.where(_outside_snapshot(outside_snapshot))
    return set(session.scalars(query))


def count_events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)
