"""Writing users, items and events: shared by the HTTP routes and the CLI importers, so both
paths store exactly the same thing (keywords included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store import events, items, users
from api.store.tables import Item
from matching.config import TagConfig
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


def write_events(session: Session, records: Sequence[Mapping[str, Any]]) -> events.InsertedEvents:
    return events.insert_events(session, records)
