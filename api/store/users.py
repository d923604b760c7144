"""Users: bulk upsert, on-the-fly creation from events, lookup, erasure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, delete, select, text, update
from sqlalchemy.orm import Session

from api.pseudonyms import person_ref
from api.store.bulk import group_by_fields, insert_missing, is_postgresql, merge_by_id, upsert
from api.store.freshness import changes_after
from api.store.tables import (
    Base,
    Erasure,
    PushList,
    PushListMember,
    Segment,
    SegmentMember,
    User,
    utcnow,
)

USER_FIELDS = ("attributes", "tags", "push_consent")

# Rows that belong to a user and go with them on erasure. A new table holding per-user
# rows (push history, ...) is erased by adding its user column here.
USER_OWNED_COLUMNS: list[Column[Any]] = [
    Base.metadata.tables[name].c.user_id
    for name in ("events", "push_list_members", "segment_members")
]


def upsert_users(session: Session, records: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update users; returns how many distinct ids were written.

    Each record has "id" and any of USER_FIELDS. A field that is present replaces the stored
    value; an absent one keeps it (or takes its default for a new user). The same id twice in
    one call merges in order, so the later record wins field by field.
    """
    merged = merge_by_id(records)
    now = utcnow()
    table: Table = User.__table__  # type: ignore[assignment]
    for fields, group in group_by_fields(merged).items():
        rows = [_new_user_row(record, now) for record in group]
        update = [*sorted(fields & set(USER_FIELDS)), "updated_at"]
        upsert(session, table, "id", rows, update, {"consent_changed_at": ("push_consent",)})
    return len(merged)


def _new_user_row(record: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": record["id"],
        "attributes": record.get("attributes", {}),
        "tags": record.get("tags", {}),
        "push_consent": record.get("push_consent", False),
        "created_at": now,
        "updated_at": now,
        "consent_changed_at": now,
    }


# PostgreSQL: the whole id list as one array parameter, one statement. Several times faster
# than executemany, which still executes one INSERT per row.
_ENSURE_USERS_POSTGRESQL = text(
    "INSERT INTO users (id, attributes, tags, push_consent, created_at, updated_at,"
    " consent_changed_at) SELECT id, '{}'::jsonb, '{}'::jsonb, false, :now, :now, :now "
    "FROM unnest(CAST(:ids AS varchar[])) AS id ON CONFLICT (id) DO NOTHING"
)


def ensure_users(session: Session, user_ids: Iterable[str]) -> None:
    """Create users that do not exist yet, with empty profiles; existing ones are untouched."""
    now, ids = utcnow(), list(dict.fromkeys(user_ids))
    if not ids:
        return
    if is_postgresql(session):
        session.execute(_ENSURE_USERS_POSTGRESQL, {"ids": ids, "now": now})
        return
    rows = [_new_user_row({"id": user_id}, now) for user_id in ids]
    insert_missing(session, User.__table__, rows)  # type: ignore[arg-type]


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_users(session: Session, user_ids: Iterable[str]) -> dict[str, User]:
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(ids)))}


def erase_user(session: Session, user_id: str) -> bool:
    """Delete a user and every row they own; leave a tombstone. False if there was no user.

    Writes run before any read: on SQLite a write transaction that reads first can
    lose its snapshot to a concurrent writer.
    """
    # A segment's size is read without counting its members: keep it true. (A write, and
    # before the user's delete, which may cascade to the memberships.)
    memberships = select(SegmentMember.segment).where(SegmentMember.user_id == user_id)
    session.execute(
        update(Segment).where(Segment.name.in_(memberships)).values(size=Segment.size - 1)
    )
    # Likewise push_lists.size: the lists the user was on lose that member.
    pushed = select(PushListMember.list_id).where(PushListMember.user_id == user_id)
    session.execute(update(PushList).where(PushList.id.in_(pushed)).values(size=PushList.size - 1))
    deleted = session.execute(delete(User).where(User.id == user_id)).rowcount  # type: ignore[attr-defined]
    if not deleted:
        return False
    for column in USER_OWNED_COLUMNS:
        session.execute(delete(column.table).where(column == user_id))
    # The tombstone names the person only by pseudonym: after erasure the id is nowhere.
    session.add(Erasure(user_id=person_ref(user_id), erased_at=utcnow()))
    session.flush()
    return True


def erased_refs_since(session: Session, snapshot_time: datetime) -> set[str]:
    """Pseudonyms (api.pseudonyms.person_ref) of users erased since a snapshot (with the
    margin of api.store.freshness): serving drops them from an older model's answers."""
    query = select(Erasure.user_id).where(Erasure.erased_at >= changes_after(snapshot_time))
    return set(session.scalars(query))
