"""One training run at a time, and dead training jobs found without the API that launched them.

The lock itself (a second holder refused, released by the kernel when its holder is
SIGKILLed), the sweep of temp dirs only under it, `tagmatch train` refused while another run
holds it, and the API: a job "running" with nobody holding the lock is failed and does not
block the next request; a lock held by any run answers 409.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from api.cli import app
from api.jobs import launcher
from api.jobs.launcher import NEVER_STARTED, PROCESS_GONE, TRAIN_JOB
from api.jobs.lock import LOCK_NAME, TrainingLock, TrainingLocked, lock_path, training_lock_holder
from api.jobs.runner import LOCKED_EXIT
from api.jobs.train import NothingToTrain, run_training
from api.routes import models as model_routes
from api.settings import Settings
from api.store import jobs
from api.store.db import SessionFactory, session_scope
from api.store.tables import Job, utcnow
from matching.artifact import TEMP_MARKER

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# Holds the lock in a process of its own until killed; says so on stdout once it does.
HOLDER = """
import sys, time
from pathlib import Path
from api.jobs.lock import TrainingLock
lock = TrainingLock.acquire(Path(sys.argv[1]), job_id="child-job")
print("held", flush=True)
time.sleep(600)
"""


def test_a_start_waits_out_a_probe_not_a_run(tmp_path: Path) -> None:
    """training_lock_holder() probes with a shared lock; a probe whose thread is descheduled
    while holding it (a loaded machine, serving's probe on every model poll) must not make a
    training run fail to start: it failed CI as "another training run holds the lock"."""
    TrainingLock.acquire(tmp_path).release()  # the lock file, as after an earlier run
    fd = os.open(lock_path(tmp_path), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe, stuck for a moment
    timer = threading.Timer(0.3, os.close, (fd,))
    timer.start()
    try:
        TrainingLock.acquire(tmp_path).release()  # waits the probe out
    finally:
        timer.join()
    with TrainingLock.acquire(tmp_path), pytest.raises(TrainingLocked):
        TrainingLock.acquire(tmp_path)  # a run is not waited out


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    assert training_lock_holder(tmp_path) is None  # no lock file yet: nobody trains
    with TrainingLock.acquire(tmp_path, job_id="first"):
        holder = training_lock_holder(tmp_path)
        assert holder is not None and f"pid {os.getpid()}" in holder and "job first" in holder
        # A second open file description conflicts even within this process.
        with pytest.raises(TrainingLocked, match=LOCK_NAME) as refused:
            TrainingLock.acquire(tmp_path)
        assert "job first" in str(refused.value)
    assert training_lock_holder(tmp_path) is None
    TrainingLock.acquire(tmp_path).release()
    assert lock_path(tmp_path).is_file()  # kept for the next run: never deleted


def test_the_kernel_releases_the_lock_of_a_sigkilled_holder(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        holder = training_lock_holder(tmp_path)
        assert holder is not None and f"pid {child.pid}" in holder and "child-job" in holder
        with pytest.raises(TrainingLocked):
            TrainingLock.acquire(tmp_path)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -9
    assert training_lock_holder(tmp_path) is None  # nothing stale left to clean
    TrainingLock.acquire(tmp_path).release()


@SQLITE_ONLY
def test_a_refused_run_leaves_the_live_runs_temp_dir_and_the_next_run_sweeps_it(
    settings: Settings,
) -> None:
    live = settings.model_dir / f".v1{TEMP_MARKER}abcd1234"
    live.mkdir(parents=True)
    with TrainingLock.acquire(settings.model_dir):  # the run that is writing `live`
        with pytest.raises(TrainingLocked, match=LOCK_NAME):
            run_training(settings)
        assert live.is_dir()
    # That run died: the next one, under the lock, removes what it left (then finds no events).
    with pytest.raises(NothingToTrain):
        run_training(settings)
    assert not live.exists()


def add_job(factory: SessionFactory, status: str, age: timedelta = timedelta(0)) -> str:
    """A training job as another process (or an API process since restarted) left it."""
    with session_scope(factory) as session:
        job = jobs.create_job(session, TRAIN_JOB)
        job.created_at = utcnow() - age
        if status == "running":
            job.status, job.started_at = "running", job.created_at
        return job.id


def job_row(factory: SessionFactory, job_id: str) -> tuple[str, str | None]:
    with session_scope(factory) as session:
        job = jobs.get_job(session, job_id)
        assert job is not None
        return job.status, job.error


def test_train_command_refused_while_another_run_holds_the_lock(
    settings: Settings, session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    queued = add_job(session_factory, "queued")
    with TrainingLock.acquire(settings.model_dir, job_id="cron"):
        refused = runner.invoke(app, ["train"])
        assert refused.exit_code == LOCKED_EXIT
        assert str(lock_path(settings.model_dir)) in refused.output
        as_job = runner.invoke(app, ["train", "--job-id", queued])
        assert as_job.exit_code == LOCKED_EXIT
    status, error = job_row(session_factory, queued)
    assert status == "failed" and error is not None and LOCK_NAME in error and "job cron" in error

    # With the lock free, a run takes it and fails the job a dead process left "running"
    # (then finds an empty store: nothing to train).
    dead = add_job(session_factory, "running")
    assert runner.invoke(app, ["train"]).exit_code == 3
    assert job_row(session_factory, dead) == ("failed", PROCESS_GONE)


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Job ids POST /v1/models/train launched a process for (none is started)."""
    started: list[str] = []

    def launch(settings: Settings, job_id: str, **kwargs: Any) -> None:
        started.append(job_id)

    monkeypatch.setattr(model_routes, "launch_training", launch)
    return started


def status_of(client: TestClient, job_id: str) -> str:
    status: str = client.get(f"/v1/jobs/{job_id}").json()["status"]
    return status


def test_a_running_job_nobody_holds_the_lock_for_is_dead(
    client: TestClient, settings: Settings, session_factory: SessionFactory, launched: list[str]
) -> None:
    first = add_job(session_factory, "running")
    with TrainingLock.acquire(settings.model_dir, job_id=first):  # its process is alive
        refused = client.post("/v1/models/train")
        assert refused.status_code == 409 and first in refused.json()["detail"]
        assert status_of(client, first) == "running"
    # The process is gone (the API that launched it restarted meanwhile): reading the job
    # says so, without writing (a GET writes nothing), and it no longer blocks.
    job = client.get(f"/v1/jobs/{first}").json()
    assert (job["status"], job["error"]) == ("failed", PROCESS_GONE)
    listed = client.get("/v1/jobs").json()["jobs"]
    assert [(j["status"], j["error"]) for j in listed] == [("failed", PROCESS_GONE)]
    assert job_row(session_factory, first) == ("running", None)

    accepted = client.post("/v1/models/train")  # a writer: it records the death
    assert accepted.status_code == 202 and launched == [accepted.json()["job_id"]]
    assert job_row(session_factory, first) == ("failed", PROCESS_GONE)
    assert status_of(client, accepted.json()["job_id"]) == "queued"  # just launched: alive


def test_a_queued_job_is_given_time_to_start(
    client: TestClient, session_factory: SessionFactory, launched: list[str]
) -> None:
    queued = add_job(session_factory, "queued")  # another replica just launched it
    assert client.post("/v1/models/train").status_code == 409
    with session_scope(session_factory) as session:
        too_old = utcnow() - launcher.QUEUED_GRACE - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == queued).values(created_at=too_old))
    accepted = client.post("/v1/models/train")
    assert accepted.status_code == 202 and launched == [accepted.json()["job_id"]]
    assert job_row(session_factory, queued) == ("failed", NEVER_STARTED)


def test_a_run_without_a_job_holding_the_lock_is_a_409(
    client: TestClient, settings: Settings, launched: list[str]
) -> None:
    with TrainingLock.acquire(settings.model_dir, job_id=None):  # e.g. a cron `tagmatch train`
        refused = client.post("/v1/models/train")
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        detail = refused.json()["detail"]
        assert LOCK_NAME in detail and f"pid {os.getpid()}" in detail
    assert launched == []
    assert client.post("/v1/models/train").status_code == 202


def test_a_job_this_process_watches_is_left_to_its_watcher(
    client: TestClient, session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its watcher reports the exit status; the lock is not consulted meanwhile."""
    watched = add_job(session_factory, "running")
    monkeypatch.setattr(launcher, "_watched", {watched})
    assert status_of(client, watched) == "running"
    assert client.post("/v1/models/train").status_code == 409
    monkeypatch.setattr(launcher, "_watched", set())
    assert status_of(client, watched) == "failed"


def test_two_replicas_racing_to_create_a_job_give_one_409(
    client: TestClient,
    session_factory: SessionFactory,
    launched: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both replicas checked "nothing unfinished" before either created its job: the store's
    unique index refuses the second creation."""
    other_replica = add_job(session_factory, "queued")
    monkeypatch.setattr(model_routes, "_live_unfinished_job", lambda *args: None)
    refused = client.post("/v1/models/train")
    assert refused.status_code == 409 and "already queued or running" in refused.json()["detail"]
    assert launched == [] and job_row(session_factory, other_replica) == ("queued", None)
