"""Items: bulk upsert, on-the-fly creation from events, lookup, soft delete, keywords."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from api.store.bulk import (
    chunks,
    group_by_fields,
    insert_missing,
    is_postgresql,
    merge_by_id,
    upsert,
)
from api.store.tables import Item, utcnow

ITEM_FIELDS = ("title", "text", "tags", "keywords", "category", "published_at", "expires_at")
WINDOW_FIELDS = ("deleted", "published_at", "expires_at")  # what makes an item servable


def upsert_items(session: Session, records: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update items; returns how many distinct ids were written.

    Fields as for users: present ones replace, absent ones keep. An upsert also un-deletes:
    sending an item again is publishing it again.
    """
    merged = merge_by_id(records)
    now = utcnow()
    table: Table = Item.__table__  # type: ignore[assignment]
    for fields, group in group_by_fields(merged).items():
        rows = [_new_item_row(record, now) for record in group]
        update_columns = [*sorted(fields & set(ITEM_FIELDS)), "deleted", "updated_at"]
        upsert(session, table, "id", rows, update_columns, {"window_changed_at": WINDOW_FIELDS})
    return len(merged)


def _new_item_row(record: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": record["id"],
        "title": record.get("title", ""),
        "text": record.get("text", ""),
        "tags": record.get("tags", {}),
        "keywords": record.get("keywords"),
        "category": record.get("category"),
        "published_at": record.get("published_at"),
        "expires_at": record.get("expires_at"),
        "deleted": False,
        "created_at": now,
        "updated_at": now,
        "window_changed_at": now,
    }


# PostgreSQL: one statement with the ids as an array (see users._ENSURE_USERS_POSTGRESQL).
_ENSURE_ITEMS_POSTGRESQL = text(
    "INSERT INTO items (id, title, text, tags, deleted, created_at, updated_at, window_changed_at)"
    " SELECT id, '', '', '{}'::jsonb, false, :now, :now, :now "
    "FROM unnest(CAST(:ids AS varchar[])) AS id ON CONFLICT (id) DO NOTHING"
)


def ensure_items(session: Session, item_ids: Iterable[str]) -> None:
    """Create items that do not exist yet (no title, no tags); existing ones are untouched."""
    now, ids = utcnow(), list(dict.fromkeys(item_ids))
    if not ids:
        return
    if is_postgresql(session):
        session.execute(_ENSURE_ITEMS_POSTGRESQL, {"ids": ids, "now": now})
        return
    rows = [_new_item_row({"id": item_id}, now) for item_id in ids]
    insert_missing(session, Item.__table__, rows)  # type: ignore[arg-type]


def get_item(session: Session, item_id: str, *, include_deleted: bool = False) -> Item | None:
    item = session.get(Item, item_id)
    if item is None or (item.deleted and not include_deleted):
        return None
    return item


def soft_delete_item(session: Session, item_id: str) -> bool:
    """Mark an item deleted (its events stay for history); False if absent or already deleted."""
    result = session.execute(
        update(Item)
        .where(Item.id == item_id, Item.deleted.is_(False))
        .values(deleted=True, updated_at=utcnow(), window_changed_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unavailable_item_ids(session: Session, now: datetime) -> set[str]:
    """Items that must not be recommended at `now`: deleted, or expired."""
    query = select(Item.id).where(or_(Item.deleted.is_(True), Item.expires_at <= now))
    return set(session.scalars(query))


def deleted_item_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Item.id).where(Item.deleted.is_(True))))


def expired_item_ids(session: Session, now: datetime) -> set[str]:
    return set(session.scalars(select(Item.id).where(Item.expires_at <= now)))


def iter_item_texts(session: Session, batch: int = 1_000) -> Iterator[tuple[str, str, str]]:
    """(id, title, text) of every live item, streamed: for re-extracting keywords."""
    query = (
        select(Item.id, Item.title, Item.text)
        .where(Item.deleted.is_(False))
        .order_by(Item.id)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(query):
        yield row.id, row.title, row.text


def set_item_keywords(session: Session, keywords: Mapping[str, list[list[Any]]]) -> None:
    """Store extracted keywords ([[tag, weight], ...]) for many items in bulk."""
    table: Table = Item.__table__  # type: ignore[assignment]
    statement = (
        update(table)
        .where(table.c.id == bindparam("item_id"))
        .values(keywords=bindparam("new_keywords"))
    )
    rows = [{"item_id": item_id, "new_keywords": kws} for item_id, kws in keywords.items()]
    for chunk in chunks(rows):
        session.connection().execute(statement, list(chunk))
