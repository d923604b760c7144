"""Start a training run as a separate process, so a crash or OOM there leaves serving alone,
and tell a dead run's job apart from a live one.

Its logs go to the same stream as the API's (inherited stdout/stderr). A watcher thread
waits for it (no zombie) and reports its exit code to `on_exit`: the caller uses that to fail
a job the process could not finish itself (killed, OOM), with the exit status in the error.
The watcher lives only as long as the API process that launched the run; for every other
job (launched before a restart, by another replica, or whose watcher is gone) the training
lock decides: `fail_if_dead`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from api.jobs.lock import training_lock_holder
from api.settings import Settings
from api.store import jobs
from api.store.tables import Job, utcnow

TRAIN_JOB = "train"
# A launched process takes the lock, then claims its job, within seconds of starting (imports
# only); a job still queued long after that will never be claimed.
QUEUED_GRACE = timedelta(minutes=2)
PROCESS_GONE = (
    "the training process is gone: it stopped before finishing (killed or crashed) "
    "and no process holds the training lock"
)
NEVER_STARTED = (
    "the training process never started: the job stayed queued for over "
    f"{int(QUEUED_GRACE.total_seconds())} s and no process holds the training lock"
)

# Jobs whose process this API process launched and still waits on: their watcher reports
# the exact exit status, so the lock is not consulted for them.
_watched: set[str] = set()


def launch_training(
    settings: Settings,
    job_id: str,
    *,
    force: bool = False,
    on_exit: Callable[[int], None] | None = None,
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["TAGMATCH_DATABASE_URL"] = settings.database_url
    env["TAGMATCH_MODEL_DIR"] = str(settings.model_dir)
    if settings.model_config_file is not None:
        env["TAGMATCH_MODEL_CONFIG_FILE"] = str(settings.model_config_file)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    command = [sys.executable, "-m", "api.cli", "train", "--job-id", job_id]
    if force:
        command.append("--force")
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    if on_exit is not None:
        _watched.add(job_id)

        def watch() -> None:
            try:
                on_exit(process.wait())
            finally:  # after the report: no moment when the job is neither watched nor failed
                _watched.discard(job_id)

        threading.Thread(target=watch, name=f"train-{job_id}", daemon=True).start()
    return process


def death_of(model_dir: Path, job: Job) -> str | None:
    """Why an unfinished training job can no longer finish, or None while it still may.

    A run holds the training lock from before its claim (queued -> running) until after its
    outcome is recorded, so a running job while nobody holds the lock is dead. A queued job
    may belong to a process still starting: only one queued past QUEUED_GRACE is."""
    if job.status not in ("queued", "running") or job.id in _watched:
        return None
    if job.status == "queued" and utcnow() - job.created_at < QUEUED_GRACE:
        return None
    if training_lock_holder(model_dir) is not None:
        return None
    return PROCESS_GONE if job.status == "running" else NEVER_STARTED


def fail_if_dead(session: Session, model_dir: Path, job: Job) -> bool:
    """Record a dead job (death_of) as failed; True when it did (the caller commits). Only
    writers call this (a new run's request, the runner): a GET reports death_of unwritten."""
    error = death_of(model_dir, job)
    if error is None:
        return False
    return jobs.fail_unfinished_job(session, job.id, error, statuses=(job.status,))
