"""Segments: rules by name, and their members materialised for paging and search filters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from api.store.bulk import chunks
from api.store.tables import Segment, SegmentMember, User, utcnow


def get_segment(session: Session, name: str) -> Segment | None:
    return session.get(Segment, name)


def list_segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.name)))


def put_segment(
    session: Session, name: str, rule: str, description: str = "", *, builtin: bool = False
) -> Segment:
    """Create or replace a segment's rule; its members are refreshed by the caller."""
    segment = session.get(Segment, name)
    now = utcnow()
    if segment is None:
        segment = Segment(name=name, created_at=now)
        session.add(segment)
    segment.rule = rule
    segment.description = description
    segment.builtin = builtin
    segment.updated_at = now
    session.flush()
    return segment


def delete_segment(session: Session, name: str) -> bool:
    session.execute(delete(SegmentMember).where(SegmentMember.segment == name))
    deleted = session.execute(delete(Segment).where(Segment.name == name)).rowcount  # type: ignore[attr-defined]
    return bool(deleted)


def replace_members(
    session: Session,
    name: str,
    user_ids: Iterable[str],
    *,
    model_version: str | None,
    refreshed_at: datetime | None = None,
) -> int:
    """Swap in a new member set in the caller's transaction: readers see old or new, whole.

    Only ids still in the store are kept: a user erased after the model was built must not
    come back as a member.
    """
    # Refreshes of one segment take turns (the row lock on PostgreSQL; SQLite's write
    # transactions are serial already): two at once would both insert the same members.
    session.execute(select(Segment.name).where(Segment.name == name).with_for_update())
    session.execute(delete(SegmentMember).where(SegmentMember.segment == name))
    ids = sorted(set(user_ids))
    existing: set[str] = set()
    for chunk in chunks(ids, 5_000):
        existing.update(session.scalars(select(User.id).where(User.id.in_(list(chunk)))))
    rows = [{"segment": name, "user_id": user_id} for user_id in ids if user_id in existing]
    for batch in chunks(rows):
        session.execute(insert(SegmentMember), list(batch))
    segment = session.get(Segment, name)
    if segment is not None:
        segment.size = len(rows)
        segment.refreshed_at = refreshed_at or utcnow()
        segment.model_version = model_version
    session.flush()
    return len(rows)


def member_ids(session: Session, name: str) -> set[str] | None:
    """Members of a segment; None when there is no such segment."""
    if session.get(Segment, name) is None:
        return None
    query = select(SegmentMember.user_id).where(SegmentMember.segment == name)
    return set(session.scalars(query))


def page_members(
    session: Session, name: str, cursor: str | None, limit: int
) -> tuple[list[str], str | None]:
    """Keyset paging by user id: stable while members change, no OFFSET scans."""
    query = (
        select(SegmentMember.user_id)
        .where(SegmentMember.segment == name)
        .order_by(SegmentMember.user_id)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(SegmentMember.user_id > cursor)
    ids = list(session.scalars(query))
    next_cursor = ids[limit - 1] if len(ids) > limit else None
    return ids[:limit], next_cursor


def count_members(session: Session, name: str) -> int:
    query = select(func.count()).select_from(SegmentMember).where(SegmentMember.segment == name)
    return int(session.scalar(query) or 0)


def segments_of_user(session: Session, user_id: str) -> list[str]:
    query = (
        select(SegmentMember.segment)
        .where(SegmentMember.user_id == user_id)
        .order_by(SegmentMember.segment)
    )
    return list(session.scalars(query))
