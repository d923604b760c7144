"""A training job whose model was activated reads "succeeded", even when the follow-up
segment refresh fails; that failure is reported in the job's result."""

from __future__ import annotations

import pytest
from trained_world import World

from api.jobs import runner
from api.jobs.runner import train_command
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.jobs import create_job, get_job
from api.store.models import active_model_version


def test_failed_segment_refresh_leaves_the_activation_succeeded(
    untrained_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_refresh(*_args: object) -> object:
        raise RuntimeError("refresh broke")

    monkeypatch.setattr(runner.segment_jobs, "refresh_all", broken_refresh)
    settings = untrained_world.settings
    engine = create_db_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            job_id = create_job(session, "train").id
        assert train_command(settings, force=False, if_no_model=False, job_id=job_id) == 0
        with session_scope(factory) as session:
            job = get_job(session, job_id)
            assert job is not None and job.status == "succeeded" and job.result is not None
            assert job.result["segments_error"] == "RuntimeError: refresh broke"
            active = active_model_version(session)
            assert active is not None and active.version == job.result["version"]
    finally:
        engine.dispose()
