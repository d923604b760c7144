"""What changed in the store since a model's snapshot, read by watermark for the live state
(api/live): each read returns only rows newer than what the caller has already seen.

Two kinds of watermark:

* Events carry an ever-growing primary key (a sequence on PostgreSQL, AUTOINCREMENT on SQLite),
  so new events are `pk > last`. A transaction may commit after a later one (PostgreSQL), so
  the ids skipped between two reads are re-asked for a while (`pending` ranges) by the caller.
* Items, users and erasures carry a change stamp written by the API host. A stamp may commit
  after a later stamp (a long transaction) or come from a host whose clock runs behind, so a
  read starts `margin` before the newest stamp seen; the caller applies rows idempotently.

Every read also honours what the snapshot held: events inside it are not returned. A
training run records exactly which event ids its snapshot read (`SnapshotEvents`, on the
model version); for versions without that record, `SNAPSHOT_MARGIN` re-reads what was
received shortly before the snapshot and the caller drops what the model holds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from api.store.tables import Erasure, Event, Item, ModelVersion, User
from matching.tagging import declared_item_tags

# A change stamped before a snapshot began may commit after it began (the snapshot then did
# not see it), or be stamped by a host whose clock runs behind the trainer's. Write
# transactions last seconds (a batch is at most 10 000 records) and NTP keeps clocks within a
# second, so a minute covers both. It is read once per model swap, not per request.
SNAPSHOT_MARGIN = timedelta(minutes=1)


# Above this many missing ranges a snapshot records nothing (its readers fall back to the
# margin): each range is a term of every event read's WHERE clause for that model.
MAX_MISSING_RANGES = 200


def changes_after(snapshot_time: datetime) -> datetime:
    """Where reads of "changed since this snapshot" start (see SNAPSHOT_MARGIN)."""
    return snapshot_time - SNAPSHOT_MARGIN


@dataclass(frozen=True, slots=True)
class SnapshotEvents:
    """The events a training snapshot read, exactly: every id up to `through` that was
    dated no later than the snapshot, except the ids in `missing` (inclusive ranges).

    `through` is the newest id the snapshot could see. Below it, on PostgreSQL, ids of
    transactions still open when the snapshot began were invisible to it and commit later:
    they are among `missing`, with ids of rows rolled back, deleted or not read. Missing ids
    are listed only above the newest id received before `SNAPSHOT_MARGIN` before the
    snapshot: a write lasts seconds, so none older was still open (the margin's guarantee).
    """

    through: int
    missing: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, read_ids: np.ndarray, *, through: int, floor: int) -> SnapshotEvents | None:
        """From the ids the snapshot read (ascending); None when the gaps are too many."""
        ids = read_ids[(read_ids > floor) & (read_ids <= through)]
        bounds = np.concatenate([[floor], ids, [through + 1]]).astype(np.int64)
        gap = np.flatnonzero(np.diff(bounds) > 1)
        if len(gap) > MAX_MISSING_RANGES:
            return None
        missing = zip((bounds[gap] + 1).tolist(), (bounds[gap + 1] - 1).tolist(), strict=True)
        return cls(int(through), tuple(missing))

    def as_json(self) -> dict[str, Any]:
        return {"through": self.through, "missing": [list(r) for r in self.missing]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SnapshotEvents | None:
        if not data:
            return None
        missing = tuple((int(lo), int(hi)) for lo, hi in data["missing"])
        return cls(int(data["through"]), missing)

    def unseen(self) -> Any:
        """The condition on events this snapshot did not read (they may be dated after it)."""
        return or_(Event.pk > self.through, *(Event.pk.between(lo, hi) for lo, hi in self.missing))


def read_snapshot_events(
    session: Session, snapshot_time: datetime, read_ids: np.ndarray
) -> SnapshotEvents | None:
    """What to record for a snapshot taken at `snapshot_time` in this very session (its
    consistent view) that read the events `read_ids`, ascending."""
    through, floor = event_id_bounds(session, changes_after(snapshot_time))
    return SnapshotEvents.of(read_ids, through=through, floor=floor)


def recorded_snapshot_events(session: Session, version: str) -> SnapshotEvents | None:
    """What the training run of `version` recorded; None for a version without a record."""
    query = select(ModelVersion.snapshot_events).where(ModelVersion.version == version)
    return SnapshotEvents.from_json(session.scalar(query))


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An item as the store holds it now; `created_at` tells a new item from a known one."""

    id: str
    deleted: bool
    published_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    stamp: datetime  # updated_at: what the watermark follows
    title: str
    text: str
    tags: dict[str, float]
    category: str | None


@dataclass(frozen=True, slots=True)
class UserChange:
    id: str
    attributes: dict[str, Any]
    tags: dict[str, float]
    push_consent: bool
    created_at: datetime
    stamp: datetime  # updated_at


@dataclass(frozen=True, slots=True)
class EventRow:
    pk: int
    user_id: str
    item_id: str
    type: str
    value: float | None
    ts: datetime
    ingested_at: datetime


def items_changed(session: Session, since: datetime) -> list[ItemChange]:
    """Items written at or after `since` (any field: windows, deletion, tags of new items)."""
    query = select(
        Item.id,
        Item.deleted,
        Item.published_at,
        Item.expires_at,
        Item.created_at,
        Item.updated_at,
        Item.title,
        Item.text,
        Item.tags,
        Item.category,
    ).where(Item.updated_at >= since)
    return [
        ItemChange(
            r.id,
            bool(r.deleted),
            r.published_at,
            r.expires_at,
            r.created_at,
            r.updated_at,
            r.title or "",
            r.text or "",
            _weights(r.tags),
            r.category,
        )
        for r in session.execute(query)
    ]


def users_changed(session: Session, since: datetime) -> list[UserChange]:
    query = select(
        User.id, User.attributes, User.tags, User.push_consent, User.created_at, User.updated_at
    ).where(User.updated_at >= since)
    return [
        UserChange(
            r.id,
            dict(r.attributes or {}),
            _weights(r.tags),
            bool(r.push_consent),
            r.created_at,
            r.updated_at,
        )
        for r in session.execute(query)
    ]


def erasures_since(session: Session, since: datetime) -> list[tuple[str, datetime]]:
    """(person_ref of the erased user, when): the id itself is not kept."""
    query = select(Erasure.user_id, Erasure.erased_at).where(Erasure.erased_at >= since)
    return [(r.user_id, r.erased_at) for r in session.execute(query)]


def events_outside_snapshot(
    session: Session,
    snapshot_time: datetime,
    *,
    after_pk: int | None,
    pending: Sequence[tuple[int, int]] = (),
    held: SnapshotEvents | None = None,
) -> list[EventRow]:
    """Events a model trained on the snapshot taken at `snapshot_time` does not hold.

    `after_pk=None` is the first read for a model: the events the snapshot did not read
    (`held`), or dated after it. Without a record, everything received since the snapshot
    (late events dated before it included, and what the margin re-reads) or dated after it.
    Later reads ask only for `pk > after_pk` and for the still-missing ids in `pending`
    (inclusive ranges).
    """
    unseen = (
        held.unseen() if held is not None else Event.ingested_at >= changes_after(snapshot_time)
    )
    outside = or_(unseen, Event.ts > snapshot_time)
    query = select(
        Event.pk, Event.user_id, Event.item_id, Event.type, Event.value, Event.ts, Event.ingested_at
    )
    if after_pk is None:
        query = query.where(outside)
    else:
        wanted = [Event.pk > after_pk, *(Event.pk.between(lo, hi) for lo, hi in pending)]
        query = query.where(and_(or_(*wanted), outside))
    return [EventRow(*row) for row in session.execute(query.order_by(Event.pk))]


def event_id_bounds(session: Session, received_before: datetime) -> tuple[int, int]:
    """(the newest event id, the id of the newest event received before `received_before`),
    0 where there is none: where a first read of the events may put its watermark, and
    below which no write still in flight can have its id. Both by index, not a scan."""
    newest = session.scalar(select(func.max(Event.pk)))
    floor = session.scalar(
        select(Event.pk)
        .where(Event.ingested_at < received_before)
        .order_by(Event.ingested_at.desc())
        .limit(1)
    )
    return int(newest or 0), int(floor or 0)


def _weights(tags: Any) -> dict[str, float]:
    return {str(tag): float(weight) for tag, weight in (tags or {}).items()}


def user_consents(session: Session, user_ids: Collection[str]) -> set[str]:
    """Of these users, those who exist and have push consent now: what a push list, which
    promises consent, checks in the store rather than in any replica's memory."""
    if not user_ids:
        return set()
    query = select(User.id).where(User.id.in_(list(user_ids)), User.push_consent.is_(True))
    return set(session.scalars(query))


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
