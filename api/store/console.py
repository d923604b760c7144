"""Read-only look-ups the marketer's console needs beyond the API's: data counts for its
overview, items found by a piece of their title or id, and item titles by id."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.store.tables import Event, Item, PushList, Segment, User


def data_counts(session: Session) -> dict[str, int]:
    """Rows per kind, as the store holds them now (deleted items excluded)."""
    counts = {
        "users": select(func.count()).select_from(User),
        "items": select(func.count()).select_from(Item).where(Item.deleted.is_(False)),
        "events": select(func.count()).select_from(Event),
        "segments": select(func.count()).select_from(Segment),
        "push_lists": select(func.count()).select_from(PushList),
    }
    return {name: int(session.scalar(query) or 0) for name, query in counts.items()}


def find_items(session: Session, text: str, limit: int = 20) -> list[Item]:
    """Items whose id is `text`, then those whose id or title contains it (case-insensitive
    on ASCII), newest first; deleted items are left out."""
    needle = text.strip()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Item)
        .where(
            Item.deleted.is_(False),
            or_(
                Item.id == needle,
                Item.id.ilike(pattern, escape="\\"),
                Item.title.ilike(pattern, escape="\\"),
            ),
        )
        .order_by((Item.id == needle).desc(), Item.updated_at.desc(), Item.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def item_titles(session: Session, item_ids: Iterable[str]) -> dict[str, str]:
    """Titles by item id, deleted items included (a report may name them)."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return {}
    rows = session.execute(select(Item.id, Item.title).where(Item.id.in_(ids)))
    return {item_id: title or "" for item_id, title in rows}
