"""The audit log: append-only (nothing here updates or deletes), read by admins in pages.

Entries carry the key id, the action, its target, the time and the client address. A target
that names a person is written as `person_ref(id)`, a keyed hash, so the log holds no personal
data once that person is erased (and none before, in plain text).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.pseudonyms import person_ref
from api.store.tables import AuditEntry, utcnow

__all__ = ["page", "person_ref", "record"]


def record(
    session: Session,
    action: str,
    target: str | None,
    *,
    key_id: str | None,
    client: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            key_id=key_id,
            action=action,
            target=None if target is None else target[:256],
            client=None if client is None else client[:64],
            detail=detail or {},
        )
    )
    session.flush()


def page(session: Session, *, before: int | None, limit: int) -> list[AuditEntry]:
    """Newest first; `before`: the id of the last entry of the previous page."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query))
