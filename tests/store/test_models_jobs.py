"""Model versions (exactly one active) and jobs (claimed once)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from api.store import jobs, models
from api.store.db import SessionFactory, session_scope
from api.store.tables import ModelVersion

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _version(session, name: str) -> None:  # type: ignore[no-untyped-def]
    models.create_model_version(
        session,
        version=name,
        config_digest="d" * 16,
        path=f"/models/{name}",
        snapshot_at=T0,
        metrics={"ndcg@10": 0.1},
        n_users=3,
        n_items=2,
        n_events=5,
    )


def test_activation_keeps_exactly_one_active(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        _version(s, "v1")
        _version(s, "v2")
        assert models.active_model_version(s) is None
    with session_scope(session_factory) as s:
        assert models.set_active_version(s, "v1").is_active
    with session_scope(session_factory) as s:
        active = models.set_active_version(s, "v2")
        assert active.version == "v2" and active.status == "active"
    with session_scope(session_factory) as s:
        active_row = models.active_model_version(s)
        assert active_row is not None and active_row.version == "v2"
        v1 = models.get_model_version(s, "v1")
        assert v1 is not None and (v1.is_active, v1.status) == (False, "retired")
        assert [v.version for v in models.list_model_versions(s)] == ["v2", "v1"]
        assert active_row.snapshot_at == T0 and active_row.metrics == {"ndcg@10": 0.1}
    with session_scope(session_factory) as s:  # rollback = activating an older version
        models.set_active_version(s, "v1")
    with session_scope(session_factory) as s:
        active_row = models.active_model_version(s)
        assert active_row is not None and active_row.version == "v1"


def test_activating_an_unknown_version_changes_nothing(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        _version(s, "v1")
        models.set_active_version(s, "v1")
    with pytest.raises(LookupError), session_scope(session_factory) as s:
        models.set_active_version(s, "nope")
    with session_scope(session_factory) as s:
        active = models.active_model_version(s)
        assert active is not None and active.version == "v1"


def test_the_store_itself_refuses_two_active_versions(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        _version(s, "v1")
        _version(s, "v2")
        models.set_active_version(s, "v1")
    with pytest.raises(IntegrityError), session_scope(session_factory) as s:
        s.execute(update(ModelVersion).where(ModelVersion.version == "v2").values(is_active=True))


def test_status_and_metrics_of_a_rejected_candidate(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        _version(s, "v1")
        assert models.set_model_status(s, "v1", "rejected", metrics={"ndcg@10": 0.0})
        assert not models.set_model_status(s, "nope", "rejected")
    with session_scope(session_factory) as s:
        v1 = models.get_model_version(s, "v1")
        assert v1 is not None and v1.status == "rejected" and v1.metrics == {"ndcg@10": 0.0}


def test_job_lifecycle_and_single_claim(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        job_id = jobs.create_job(s, "train").id
        assert jobs.unfinished_job(s, "train") is not None
    with session_scope(session_factory) as s:
        assert jobs.claim_job(s, job_id) is True
        assert jobs.claim_job(s, job_id) is False
    with session_scope(session_factory) as s:
        jobs.finish_job(s, job_id, result={"version": "v1"})
    with session_scope(session_factory) as s:
        job = jobs.get_job(s, job_id)
        assert job is not None and job.status == "succeeded" and job.result == {"version": "v1"}
        assert job.started_at is not None and job.finished_at is not None
        assert jobs.unfinished_job(s, "train") is None
        failed_id = jobs.create_job(s, "train").id
        jobs.claim_job(s, failed_id)
        jobs.finish_job(s, failed_id, error="boom")
    with session_scope(session_factory) as s:
        failed = jobs.get_job(s, failed_id)
        assert failed is not None and (failed.status, failed.error) == ("failed", "boom")
        assert {j.id for j in jobs.list_jobs(s, "train")} == {failed_id, job_id}
        assert jobs.list_jobs(s, "other") == []
        assert jobs.get_job(s, "missing") is None


def test_failing_unfinished_jobs_only_in_the_status_they_were_judged_in(
    session_factory: SessionFactory,
) -> None:
    with session_scope(session_factory) as s:
        running, queued = jobs.create_job(s, "train").id, jobs.create_job(s, "report").id
        other = jobs.create_job(s, "other").id
        assert jobs.claim_job(s, running) and jobs.claim_job(s, other)
    with session_scope(session_factory) as s:
        # Judged dead while queued, but claimed meanwhile: left alone.
        assert not jobs.fail_unfinished_job(s, running, "gone", statuses=("queued",))
        assert jobs.fail_running_jobs(s, "train", "gone") == [running]
    with session_scope(session_factory) as s:
        statuses = {j.id: (j.status, j.error) for j in jobs.list_jobs(s)}
    assert statuses == {
        running: ("failed", "gone"),
        queued: ("queued", None),
        other: ("running", None),
    }


def test_the_store_allows_one_unfinished_job_per_kind(session_factory: SessionFactory) -> None:
    """Two replicas may both see no training job and both create one: the second must fail."""
    with session_scope(session_factory) as s:
        first = jobs.create_job(s, "train").id
    with session_scope(session_factory) as s:
        with pytest.raises(jobs.JobAlreadyUnfinished):
            jobs.create_job(s, "train")
        other = jobs.create_job(s, "report").id  # the session is still usable; kinds apart
        assert jobs.claim_job(s, first)
        with pytest.raises(jobs.JobAlreadyUnfinished):
            jobs.create_job(s, "train")  # running counts as unfinished too
    with session_scope(session_factory) as s:
        jobs.finish_job(s, first, error="boom")
        second = jobs.create_job(s, "train").id
    with session_scope(session_factory) as s:
        assert {j.id for j in jobs.list_jobs(s)} == {first, second, other}


def test_a_running_job_records_its_stage_and_progress(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        job_id = jobs.create_job(s, "train").id
        jobs.set_job_progress(s, job_id, "fit", 0.5)  # queued: not running yet, nothing moves
    with session_scope(session_factory) as s:
        job = jobs.get_job(s, job_id)
        assert job is not None and (job.stage, job.progress) == (None, None)
        jobs.claim_job(s, job_id)
    with session_scope(session_factory) as s:
        job = jobs.get_job(s, job_id)
        assert job is not None and (job.stage, job.progress) == ("starting", 0.0)
        jobs.set_job_progress(s, job_id, "evaluate", 0.3)
    with session_scope(session_factory) as s:
        job = jobs.get_job(s, job_id)
        assert job is not None and (job.stage, job.progress) == ("evaluate", 0.3)
        jobs.finish_job(s, job_id, error="boom")
        jobs.set_job_progress(s, job_id, "fit", 0.9)  # finished: its end stays as it was
    with session_scope(session_factory) as s:
        job = jobs.get_job(s, job_id)
        assert job is not None and (job.status, job.stage, job.progress) == (
            "failed",
            "evaluate",
            0.3,
        )
