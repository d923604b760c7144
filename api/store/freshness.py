"""What changed in the store since a model's snapshot: serving applies it on top of the model,
so deletions, expiries, erasures, consent changes and new events count at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.store.tables import Event, Item, User


@dataclass(frozen=True, slots=True)
class ItemWindow:
    id: str
    deleted: bool
    published_at: datetime | None
    expires_at: datetime | None

    def available(self, now: datetime) -> bool:
        if self.deleted:
            return False
        if self.published_at is not None and self.published_at > now:
            return False
        return self.expires_at is None or self.expires_at > now


def items_changed_since(session: Session, since: datetime) -> list[ItemWindow]:
    query = select(Item.id, Item.deleted, Item.published_at, Item.expires_at).where(
        Item.updated_at >= since
    )
    return [
        ItemWindow(r.id, bool(r.deleted), r.published_at, r.expires_at)
        for r in session.execute(query)
    ]


def consent_changed_since(session: Session, since: datetime) -> dict[str, bool]:
    query = select(User.id, User.push_consent).where(User.updated_at >= since)
    return {r.id: bool(r.push_consent) for r in session.execute(query)}


def popular_item_ids(session: Session, since: datetime, limit: int) -> list[tuple[str, int]]:
    """Most interacted-with live items since a time: the answer before any model exists."""
    count = func.count(Event.pk).label("n")
    query = (
        select(Event.item_id, count)
        .join(Item, Item.id == Event.item_id)
        .where(Event.ts >= since, Item.deleted.is_(False))
        .group_by(Event.item_id)
        .order_by(count.desc(), Event.item_id)
        .limit(limit)
    )
    return [(r.item_id, int(r.n)) for r in session.execute(query)]
