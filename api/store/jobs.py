"""Background jobs (training runs, ...): a row per job, claimed atomically so that one
process runs it even when several replicas see it queued.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.store.tables import Job, utcnow

UNFINISHED = ("queued", "running")


class JobAlreadyUnfinished(RuntimeError):
    """A job of this kind is queued or running already (the store's unique index said so)."""


def create_job(session: Session, kind: str) -> Job:
    """A queued job; JobAlreadyUnfinished when one of this kind is queued or running, even
    one created a moment ago by another replica (the session stays usable)."""
    job = Job(id=uuid.uuid4().hex, kind=kind, status="queued", created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        raise JobAlreadyUnfinished(f"a {kind} job is already queued or running") from None
    return job


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, kind: str | None = None, limit: int = 50) -> list[Job]:
    """Newest first."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))


def unfinished_job(session: Session, kind: str) -> Job | None:
    """The oldest queued or running job of a kind: lets a caller avoid starting a second one."""
    query = (
        select(Job)
        .where(Job.kind == kind, Job.status.in_(UNFINISHED))
        .order_by(Job.created_at)
        .limit(1)
    )
    return session.scalar(query)


def claim_job(session: Session, job_id: str) -> bool:
    """queued -> running; False when someone else already claimed it."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", started_at=utcnow(), stage="starting", progress=0.0)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_job_progress(session: Session, job_id: str, stage: str, progress: float) -> None:
    """Record what a running job is doing and how far it is (0..1); a finished job is left
    as it ended."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(stage=stage, progress=min(max(progress, 0.0), 1.0))
    )


def finish_job(
    session: Session,
    job_id: str,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """running -> succeeded (with result, progress 1) or failed (with error; the stage it
    failed in stays)."""
    succeeded = error is None
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            **({"stage": "done", "progress": 1.0} if succeeded else {}),
            status="failed" if error is not None else "succeeded",
            finished_at=utcnow(),
            result=None if result is None else dict(result),
            error=error,
        )
    )


def fail_unfinished_job(
    session: Session,
    job_id: str,
    error: str,
    *,
    statuses: tuple[str, ...] = UNFINISHED,
) -> bool:
    """queued/running -> failed; False when the job had finished (its own outcome stands).
    `statuses` narrows it to the status a caller judged the job in, so a job that moved on
    meanwhile (queued -> running) is left alone."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(statuses))
        .values(status="failed", finished_at=utcnow(), error=error)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail_running_jobs(session: Session, kind: str, error: str) -> list[str]:
    """running -> failed for every job of a kind, for a caller that knows none of them can
    still be running (it holds the lock their processes held); returns their ids."""
    ids = list(session.scalars(select(Job.id).where(Job.kind == kind, Job.status == "running")))
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status == "running")
            .values(status="failed", finished_at=utcnow(), error=error)
        )
    return ids
