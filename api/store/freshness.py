"""What changed in the store since a model's snapshot: serving applies it on top of the model,
so deletions, expiries, erasures, consent changes and new events count at once.

Every such read starts SNAPSHOT_MARGIN before the snapshot. A change stamped before a snapshot
began may commit after it began (the snapshot then did not see it), or be stamped by a host
whose clock runs behind the trainer's. Our write transactions last seconds (a batch is at most
10 000 records; SQLite's busy timeout is 10 s) and NTP keeps clocks within a second, so a
minute covers both; it is kept short because every request re-reads what was stamped in it,
and a bulk load followed at once by training stamps everything just before the snapshot.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from api.store.tables import Event, Item, User
from matching.tagging import declared_item_tags

SNAPSHOT_MARGIN = timedelta(minutes=1)


def changes_after(snapshot_time: datetime) -> datetime:
    """Where reads of "changed since this snapshot" start (see the module docstring)."""
    return snapshot_time - SNAPSHOT_MARGIN


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


def items_changed_since(session: Session, snapshot_time: datetime) -> list[ItemWindow]:
    """Items whose servability (deleted, published_at, expires_at) may differ from the
    snapshot's; other edits do not count, so re-sending the catalogue costs nothing here."""
    query = select(Item.id, Item.deleted, Item.published_at, Item.expires_at).where(
        Item.window_changed_at >= changes_after(snapshot_time)
    )
    return [
        ItemWindow(r.id, bool(r.deleted), r.published_at, r.expires_at)
        for r in session.execute(query)
    ]


def consent_changed_since(session: Session, snapshot_time: datetime) -> dict[str, bool]:
    query = select(User.id, User.push_consent).where(
        User.consent_changed_at >= changes_after(snapshot_time)
    )
    return {r.id: bool(r.push_consent) for r in session.execute(query)}


def popular_item_ids(
    session: Session,
    since: datetime,
    limit: int,
    *,
    now: datetime,
    category: str | None = None,
    tag: str | None = None,
    exclude: Collection[str] = (),
) -> list[tuple[str, int]]:
    """Most interacted-with items since a time: the answer before any model exists.

    Only items live at `now` (not deleted, published, not expired), in `category` and with
    `tag` (declared, or a stored keyword as `kw:word`) when given, minus `exclude`: the same
    rules the model's answers follow.
    """
    counts = (
        select(Event.item_id, func.count(Event.pk).label("n"))
        .where(Event.ts >= since)
        .group_by(Event.item_id)
        .subquery()
    )
    query = (
        select(Item.id, counts.c.n, Item.tags, Item.category, Item.keywords)
        .join(counts, counts.c.item_id == Item.id)
        .where(
            Item.deleted.is_(False),
            or_(Item.published_at.is_(None), Item.published_at <= now),
            or_(Item.expires_at.is_(None), Item.expires_at > now),
        )
        .order_by(counts.c.n.desc(), Item.id)
    )
    if category is not None:
        query = query.where(Item.category == category)
    if tag is None and not exclude:
        query = query.limit(limit)
    found: list[tuple[str, int]] = []
    for row in session.execute(query):
        if row.id in exclude or (tag is not None and not _has_tag(row, tag)):
            continue
        found.append((row.id, int(row.n)))
        if len(found) == limit:
            break
    return found


def _has_tag(row: Row[Any], tag: str) -> bool:
    if tag in declared_item_tags(row.tags or {}, row.category):
        return True
    return any(f"kw:{keyword}" == tag for keyword, _ in row.keywords or [])
