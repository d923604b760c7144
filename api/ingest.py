"""Writing users, items and events: shared by the HTTP routes and the CLI importers, so both
paths store exactly the same thing (keywords included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store import events, items, users
from api.store.bulk import refresh_planner_statistics
from api.store.db import SessionFactory, session_scope
from api.store.tables import Item
from matching.config import TagConfig
from matching.data import ItemRecord, UserRecord
from matching.datasets import Catalogue, EventRecord
from matching.progress import Progress, ignore_progress
from matching.tagging import extract_keywords


def write_users(session: Session, records: Sequence[Mapping[str, Any]]) -> int:
    return users.upsert_users(session, records)


def write_items(
    session: Session, records: Sequence[Mapping[str, Any]], keywords_per_item: int | None = None
) -> int:
    """Upsert items, then (re-)extract keywords for those whose title or text was sent.

    Keywords come from the stored title and text after the upsert, so sending only a new
    title still extracts from the title plus the text stored earlier.
    """
    written = items.upsert_items(session, records)
    changed = list({r["id"] for r in records if "title" in r or "text" in r})
    if changed:
        top_k = (
            TagConfig.model_validate({}).keywords_per_item
            if keywords_per_item is None
            else keywords_per_item
        )
        items.set_item_keywords(session, _keywords(session, changed, top_k))
    return written


def _keywords(session: Session, item_ids: list[str], top_k: int) -> dict[str, list[list[Any]]]:
    found: dict[str, list[list[Any]]] = {}
    for start in range(0, len(item_ids), 1_000):
        query = select(Item.id, Item.title, Item.text).where(
            Item.id.in_(item_ids[start : start + 1_000])
        )
        for item_id, title, text in session.execute(query):
            pairs = extract_keywords(title or "", text or "", top_k)
            found[item_id] = [[keyword, weight] for keyword, weight in pairs]
    return found


def write_events(
    session: Session, records: Sequence[Mapping[str, Any]], *, keep_rows: bool = False
) -> events.InsertedEvents:
    return events.insert_events(session, records, keep_rows=keep_rows)


def user_record(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "attributes": dict(user.attributes),
        "tags": dict(user.tags),
        "push_consent": user.push_consent,
    }


def item_record(item: ItemRecord) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "text": item.text,
        "tags": dict(item.tags),
        "category": item.category,
        "published_at": _datetime(item.published_at),
        "expires_at": _datetime(item.expires_at),
    }


def event_record(event: EventRecord) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type,
        "value": event.value,
        "ts": _datetime(event.ts),
    }


def _datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class CatalogueWritten:
    users: int
    items: int
    events_accepted: int
    events_duplicate: int


def write_catalogue(
    factory: SessionFactory,
    catalogue: Catalogue,
    batch: int = 10_000,
    progress: Progress | None = None,
) -> CatalogueWritten:
    """Store a whole catalogue (an import, the demo data) in transactions of `batch` records,
    so memory and lock times stay bounded however large it is. `progress` hears the part
    being written and the fraction of all records written."""
    report = progress or ignore_progress
    total = max(len(catalogue.users) + len(catalogue.items) + len(catalogue.events), 1)
    n_users = n_items = accepted = duplicates = 0
    for start in range(0, len(catalogue.users), batch):
        report("users", start / total)
        with session_scope(factory) as session:
            chunk = catalogue.users[start : start + batch]
            n_users += write_users(session, [user_record(u) for u in chunk])
    done = len(catalogue.users)
    for start in range(0, len(catalogue.items), batch):
        report("items", (done + start) / total)
        with session_scope(factory) as session:
            chunk_items = catalogue.items[start : start + batch]
            n_items += write_items(session, [item_record(i) for i in chunk_items])
    done += len(catalogue.items)
    for start in range(0, len(catalogue.events), batch):
        report("events", (done + start) / total)
        with session_scope(factory) as session:
            records = [event_record(e) for e in catalogue.events[start : start + batch]]
            result = write_events(session, records)
            accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
    with session_scope(factory) as session:
        refresh_planner_statistics(session)
    report("done", 1.0)
    return CatalogueWritten(n_users, n_items, accepted, duplicates)
