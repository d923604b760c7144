"""Model versions: what the training job produced, and which one serving uses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from api.store.tables import ModelVersion, utcnow


def create_model_version(
    session: Session,
    *,
    version: str,
    config_digest: str,
    path: str,
    snapshot_at: datetime,
    metrics: Mapping[str, Any] | None = None,
    n_users: int = 0,
    n_items: int = 0,
    n_events: int = 0,
    status: str = "candidate",
    note: str | None = None,
    snapshot_events: dict[str, Any] | None = None,
) -> ModelVersion:
    row = ModelVersion(
        version=version,
        created_at=utcnow(),
        config_digest=config_digest,
        metrics=dict(metrics or {}),
        status=status,
        is_active=False,
        path=path,
        snapshot_at=snapshot_at,
        n_users=n_users,
        n_items=n_items,
        n_events=n_events,
        note=note,
        snapshot_events=snapshot_events,
    )
    session.add(row)
    session.flush()
    return row


def get_model_version(session: Session, version: str) -> ModelVersion | None:
    return session.get(ModelVersion, version)


def list_model_versions(session: Session, limit: int = 100) -> list[ModelVersion]:
    """Newest first."""
    query = select(ModelVersion).order_by(ModelVersion.created_at.desc()).limit(limit)
    return list(session.scalars(query))


def active_model_version(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.is_active.is_(True)))


def set_model_status(
    session: Session, version: str, status: str, *, metrics: Mapping[str, Any] | None = None
) -> bool:
    """Record a non-active outcome ('candidate', 'rejected') and optionally its metrics."""
    values: dict[str, Any] = {"status": status}
    if metrics is not None:
        values["metrics"] = dict(metrics)
    result = session.execute(
        update(ModelVersion).where(ModelVersion.version == version).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_active_version(session: Session, version: str) -> ModelVersion:
    """Make `version` the one active version and retire the previous one, in one transaction.

    Raises LookupError when the version does not exist; the caller's transaction must then
    be rolled back (SessionDep and db.session_scope do). A partial unique index guarantees
    at most one active row; the lock makes concurrent activations queue instead of failing.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE"))
    # Retire first: the unique index would refuse two active rows even for an instant.
    # On SQLite this write is also what takes the database lock before anything is read.
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.is_active.is_(True), ModelVersion.version != version)
        .values(is_active=False, status="retired")
    )
    activated = session.execute(
        update(ModelVersion)
        # A pruned version's files are gone, or going (api.jobs.model_upkeep): never active.
        .where(ModelVersion.version == version, ModelVersion.status != "pruned")
        .values(is_active=True, status="active")
    ).rowcount  # type: ignore[attr-defined]
    if not activated:
        raise LookupError(f"model version {version!r} does not exist or was pruned")
    row = session.get(ModelVersion, version, populate_existing=True)
    assert row is not None
    return row
