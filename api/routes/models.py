"""Model versions and training: POST /v1/models/train, GET /v1/jobs/{id}, GET /v1/models,
GET /v1/models/{version}, POST /v1/models/{version}/activate (rollback or forced promotion)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session

from api.deps import AuditDep, HolderDep, SessionDep, SettingsDep, require_scope
from api.errors import ProblemError
from api.jobs import segments as segment_jobs
from api.jobs.launcher import TRAIN_JOB, death_of, fail_if_dead, launch_training
from api.jobs.lock import lock_path, training_lock_holder
from api.schemas.common import problem_responses
from api.schemas.models import (
    JobAccepted,
    JobList,
    JobOut,
    ModelList,
    ModelVersionDetail,
    ModelVersionOut,
)
from api.store import jobs
from api.store import models as model_store
from api.store.db import SessionFactory, session_scope
from api.store.tables import Job
from matching.artifact import stored_config

router = APIRouter(
    prefix="/v1",
    tags=["models"],
    dependencies=[require_scope("admin")],
    responses=problem_responses(401),
)

log = logging.getLogger("tagmatch.jobs")


@router.post("/models/train", status_code=202, responses=problem_responses(409, 503))
def train(
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    audited: AuditDep,
    force: bool = False,
) -> JobAccepted:
    """Start a training run in its own process (a crash there never touches serving).
    One run at a time: while a job is queued or running, its id is returned with 409; so is
    a run without a job (a scheduled `tagmatch train`) holding the training lock. A job whose
    process is gone is marked failed first and does not block."""
    running = _live_unfinished_job(session, settings.model_dir)
    if running is not None:
        raise ProblemError(409, "Training already running", f"job {running.id} is {running.status}")
    holder = training_lock_holder(settings.model_dir)
    if holder is not None:
        detail = f"another training run holds {lock_path(settings.model_dir)} ({holder})"
        raise ProblemError(409, "Training already running", detail)
    try:
        job = jobs.create_job(session, TRAIN_JOB)
    except jobs.JobAlreadyUnfinished as exc:  # another replica created one since our check
        raise ProblemError(409, "Training already running", str(exc)) from exc
    audited("model.train", job.id, force=force)
    session.commit()  # the child process must see the job row
    factory = request.app.state.session_factory
    try:
        launch_training(settings, job.id, force=force, on_exit=_on_exit(factory, job.id))
    except OSError as exc:
        _fail_if_unfinished(factory, job.id, f"the training process did not start: {exc}")
        raise ProblemError(503, "Cannot start training", str(exc)) from exc
    return JobAccepted(job_id=job.id)


def _live_unfinished_job(session: Session, model_dir: FsPath) -> Job | None:
    while (job := jobs.unfinished_job(session, TRAIN_JOB)) is not None:
        if not fail_if_dead(session, model_dir, job):
            return job
        log.warning("training job %s had died; marked failed", job.id)
    return None


def _on_exit(factory: SessionFactory, job_id: str) -> Callable[[int], None]:
    """When the training process ends without having finished its job (killed, OOM), the
    job fails with the exit status instead of staying 'running' and blocking every next run."""

    def record(code: int) -> None:
        if code == 0:  # only a run that recorded its outcome exits 0
            return
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        _fail_if_unfinished(factory, job_id, f"the training process {how} before finishing")

    return record


def _fail_if_unfinished(factory: SessionFactory, job_id: str, error: str) -> None:
    try:
        with session_scope(factory) as session:
            jobs.fail_unfinished_job(session, job_id, error)
    except Exception:  # the store is down: nothing more can be recorded
        log.exception("could not record the end of training job %s", job_id)


@router.get("/jobs", responses=problem_responses(422))
def list_jobs(
    session: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str | None, Query(max_length=64, description="e.g. train")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobList:
    """Jobs, newest first, with their stage and progress. A training job whose process is
    gone reads as failed."""
    found = jobs.list_jobs(session, kind=kind, limit=limit)
    return JobList(jobs=[_job_out(job, settings.model_dir) for job in found])


@router.get("/jobs/{job_id}", responses=problem_responses(404))
def get_job(
    job_id: Annotated[str, Path(max_length=64)], session: SessionDep, settings: SettingsDep
) -> JobOut:
    """A training job whose process is gone reads as failed, not running forever."""
    job = jobs.get_job(session, job_id)
    if job is None:
        raise ProblemError(404, "Job not found", f"no job {job_id!r}")
    return _job_out(job, settings.model_dir)


def _job_out(job: Job, model_dir: FsPath) -> JobOut:
    """A dead training job as failed, without writing: a GET writes nothing. The next run's
    request (or the run itself) records it."""
    out = JobOut.from_row(job)
    error = death_of(model_dir, job) if job.kind == TRAIN_JOB else None
    if error is None:
        return out
    return out.model_copy(update={"status": "failed", "error": error})


@router.get("/models")
def list_models(session: SessionDep, holder: HolderDep) -> ModelList:
    rows = model_store.list_model_versions(session)
    return ModelList(serving=holder.version, models=[ModelVersionOut.from_row(r) for r in rows])


@router.get("/models/{version}", responses=problem_responses(404))
def get_model(
    version: Annotated[str, Path(max_length=64)], session: SessionDep, settings: SettingsDep
) -> ModelVersionDetail:
    """A version with the settings it was fitted with and its model search (every trial)."""
    row = model_store.get_model_version(session, version)
    if row is None:
        raise ProblemError(404, "Model version not found", f"no model version {version!r}")
    return ModelVersionDetail.from_row_and_config(row, stored_config(settings.model_dir / row.path))


@router.post("/models/{version}/activate", responses=problem_responses(404, 409))
def activate(
    version: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    holder: HolderDep,
    request: Request,
    audited: AuditDep,
) -> ModelVersionOut:
    """Make a stored version the active one (e.g. roll back). Every replica picks it up at
    its next poll; this one at once. Segment members are re-evaluated on it, as after a
    training run, so segments, audiences and push lists agree with the model served."""
    row = model_store.get_model_version(session, version)
    if row is None:
        raise ProblemError(404, "Model version not found", f"no model version {version!r}")
    settings = request.app.state.settings
    if not (settings.model_dir / row.path / "manifest.json").exists():
        raise ProblemError(409, "Artifact missing", f"model {version} has no artifact on disk")
    row = model_store.set_active_version(session, version)
    audited("model.activate", version)
    session.commit()
    holder.refresh()
    model = holder.current
    if model is not None and model.version == version:
        segment_jobs.refresh_all(session, model)
    return ModelVersionOut.from_row(row)
