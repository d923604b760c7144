"""Push target lists and the push history frequency caps count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from api.store.bulk import chunks
from api.store.tables import PushList, PushListMember


def capped_user_ids(session: Session, since: datetime, max_pushes: int) -> set[str]:
    """Users already pushed `max_pushes` times or more at or after `since`."""
    pushes = func.count().label("pushes")
    query = (
        select(PushListMember.user_id)
        .where(PushListMember.pushed_at >= since)
        .group_by(PushListMember.user_id)
        .having(pushes >= max_pushes)
    )
    return set(session.scalars(query))


def create_push_list(
    session: Session,
    *,
    list_id: str,
    item_id: str,
    created_at: datetime,
    model_version: str | None,
    request: Mapping[str, Any],
    members: Sequence[tuple[str, float, list[str]]],
) -> PushList:
    push_list = PushList(
        id=list_id,
        item_id=item_id,
        created_at=created_at,
        model_version=model_version,
        request=dict(request),
        size=len(members),
    )
    session.add(push_list)
    session.flush()
    rows = [
        {
            "list_id": list_id,
            "rank": rank,
            "user_id": user_id,
            "score": score,
            "reasons": reasons,
            "pushed_at": created_at,
        }
        for rank, (user_id, score, reasons) in enumerate(members, start=1)
    ]
    for chunk in chunks(rows):
        session.execute(insert(PushListMember), list(chunk))
    return push_list


def get_push_list(session: Session, list_id: str) -> PushList | None:
    return session.get(PushList, list_id)


def push_list_members(session: Session, list_id: str) -> list[PushListMember]:
    query = select(PushListMember).where(PushListMember.list_id == list_id)
    return list(session.scalars(query.order_by(PushListMember.rank)))


def list_push_lists(
    session: Session, cursor: tuple[datetime, str] | None, limit: int
) -> tuple[list[PushList], tuple[datetime, str] | None]:
    """Saved lists newest first, paged by (created_at, id) keyset: pages stay stable while
    new lists are created, and no OFFSET scan. The cursor is the last row of a page."""
    query = select(PushList).order_by(PushList.created_at.desc(), PushList.id.desc())
    if cursor is not None:
        created_at, list_id = cursor
        query = query.where(
            or_(
                PushList.created_at < created_at,
                and_(PushList.created_at == created_at, PushList.id < list_id),
            )
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    last = rows[limit - 1] if len(rows) > limit else None
    return rows[:limit], None if last is None else (last.created_at, last.id)
