"""What the CLI's job commands do, with the store around them (train, evaluate, report)."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from api.jobs import segments as segment_jobs
from api.jobs.launcher import PROCESS_GONE, TRAIN_JOB
from api.jobs.lock import LOCKED_EXIT, TrainingLock, TrainingLocked
from api.jobs.stages import StageRecorder
from api.jobs.train import BadModelConfig, NothingToTrain, load_model_config, run_training
from api.progress import ProgressCallback, metrics_table, print_table
from api.settings import Settings
from api.store import jobs
from api.store import models as model_store
from api.store import segments as segment_store
from api.store.db import (
    SessionFactory,
    create_db_engine,
    make_session_factory,
    session_scope,
    snapshot_session,
)
from api.store.snapshot import read_snapshot
from matching.model import TrainedModel
from matching.pipeline import evaluate_snapshot

log = logging.getLogger("tagmatch.jobs")


def _active_model(settings: Settings, session: Any) -> TrainedModel | None:
    row = model_store.active_model_version(session)
    return None if row is None else TrainedModel.load(settings.model_dir / row.path)


# sysexits EX_CONFIG: the hyperparameter file is wrong; nothing was done.
BAD_CONFIG_EXIT = 78


def train_command(
    settings: Settings,
    *,
    force: bool,
    if_no_model: bool,
    job_id: str | None,
    display: ProgressCallback | None = None,
) -> int:
    """`tagmatch train`: 0 when a run finished (activated or not), 3 with nothing to train,
    75 when another run holds the lock, 78 on a bad model config file (before any work), 1 on
    failure. `display` sees the stages as they go (a progress bar); the metrics end up in a
    table beside the active model's, after the model search's trials."""
    try:  # before any work: a bad file must not cost a snapshot, a lock or a job claim
        load_model_config(settings)
    except BadModelConfig as exc:
        print(f"error: invalid model config: {exc}", file=sys.stderr)
        if job_id is not None:
            _fail_job_quietly(settings, job_id, f"invalid model config: {exc}")
        return BAD_CONFIG_EXIT
    engine = create_db_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        if if_no_model:
            with session_scope(factory) as session:
                if model_store.active_model_version(session) is not None:
                    print("a model is already active; not training (--if-no-model)")
                    return 0
        # The lock before the claim, released after the outcome is recorded: so a job that
        # is "running" while nobody holds the lock is known dead (launcher.fail_if_dead).
        try:
            lock = TrainingLock.acquire(settings.model_dir, job_id=job_id)
        except TrainingLocked as exc:
            if job_id is not None:
                with session_scope(factory) as session:
                    jobs.fail_unfinished_job(session, job_id, str(exc))
            print(f"error: {exc}", file=sys.stderr)
            return LOCKED_EXIT
        with lock:
            return _train_locked(
                settings, engine, factory, force=force, job_id=job_id, display=display
            )
    finally:
        engine.dispose()


def _train_locked(
    settings: Settings,
    engine: Engine,
    factory: SessionFactory,
    *,
    force: bool,
    job_id: str | None,
    display: ProgressCallback | None,
) -> int:
    with session_scope(factory) as session:
        # Their processes held this lock until they finished: whatever is still running died.
        for gone in jobs.fail_running_jobs(session, TRAIN_JOB, PROCESS_GONE):
            log.warning("training job %s had died; marked failed", gone)
        serving = model_store.active_model_version(session)
        before = None if serving is None else (serving.version, dict(serving.metrics or {}))
    if job_id is not None:
        with session_scope(factory) as session:
            if not jobs.claim_job(session, job_id):
                print(f"job {job_id} is not queued; nothing to do")
                return 1
    stages = StageRecorder(factory, job_id, display)
    try:
        outcome = run_training(
            settings, force=force, engine=engine, lock_held=True, progress=stages
        )
        result = outcome.as_dict()
        if outcome.activated:
            stages("segments", 0.97)
            result.update(_refresh_segments(settings, factory, outcome.version))
        # A list, not an object: PostgreSQL's JSONB does not keep an object's key order.
        result["stages"] = [{"stage": k, "seconds": v} for k, v in stages.finish().items()]
    except NothingToTrain as exc:
        stages.finish()
        _finish(factory, job_id, error=str(exc))
        print(f"nothing to train: {exc}")
        return 3
    except Exception as exc:
        stages.finish()
        _finish(factory, job_id, error=f"{exc.__class__.__name__}: {exc}")
        log.error("training failed\n%s", traceback.format_exc())
        return 1
    _finish(factory, job_id, result=result)
    print(format_search(outcome.metrics))
    verdict = "activated" if outcome.activated else "kept the active model"
    print(f"model {outcome.version}: {verdict} ({outcome.reason})")
    if before is not None:
        print(f"active before: {before[0]}")
    print_table(
        metrics_table(
            {**outcome.metrics, "seconds": round(outcome.seconds, 1)},
            before[1] if before else None,
            candidate_label="new",
            active_label="active before",
        )
    )
    return 0


def format_search(metrics: dict[str, Any]) -> str:
    """The model search of a run as `tagmatch train` prints it: chosen settings, every trial."""
    found = metrics.get("search") or {}
    lines = [f"model search: {found.get('trials', 0)} trials in {found.get('seconds', 0)} s"]
    score_name = next((k for k in found if k.startswith("validation_ndcg")), None)
    if score_name is not None:
        lines.append(f"  best {score_name}: {found[score_name]}")
    for name, value in sorted((found.get("chosen") or {}).items()):
        lines.append(f"  chosen {name} = {value}")
    weights = found.get("ranking_weights") or {}
    if weights:
        lines.append("  ranking weights: " + ", ".join(f"{k} {v:+.3f}" for k, v in weights.items()))
    for trial in found.get("trial_scores") or []:
        score = next((v for k, v in trial.items() if k.startswith("ndcg@")), None)
        shown = "failed" if score is None else f"{score:.4f}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial["params"].items()))
        lines.append(f"  trial {trial['number']:3d}: {shown}  {params}")
    for label, key in (("candidate", None), ("active procedure", "active")):
        part = metrics if key is None else metrics.get(key) or {}
        ndcg = next((v for k, v in part.items() if k.startswith("ndcg@")), None)
        if ndcg is not None:
            lines.append(f"holdout nDCG, {label}: {ndcg:.4f}")
    popular = metrics.get("most_popular") or {}
    ndcg = next((v for k, v in popular.items() if k.startswith("ndcg@")), None)
    if ndcg is not None:
        lines.append(f"holdout nDCG, most popular: {ndcg:.4f}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _fail_job_quietly(settings: Settings, job_id: str, error: str) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            jobs.fail_unfinished_job(session, job_id, error)
    except Exception:  # the store is down: the launcher records the exit code instead
        log.exception("could not record the failure of job %s", job_id)
    finally:
        engine.dispose()


def _refresh_segments(settings: Settings, factory: SessionFactory, version: str) -> dict[str, Any]:
    """The follow-up step of an activation. Its failure is reported in the job's result
    (`segments_error`), not as a failed job: the model is active and serving already."""
    try:
        model = TrainedModel.load(settings.model_dir / version)
        with session_scope(factory) as session:
            return {"segments": segment_jobs.refresh_all(session, model)}
    except Exception as exc:
        log.error("segment refresh after activating %s failed", version, exc_info=True)
        return {"segments_error": f"{exc.__class__.__name__}: {exc}"}


def _finish(
    factory: Any,
    job_id: str | None,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    if job_id is None:
        return
    with session_scope(factory) as session:
        jobs.finish_job(session, job_id, result=result, error=error)


def evaluate_command(settings: Settings) -> dict[str, Any]:
    """BadModelConfig before the store is touched."""
    config = load_model_config(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with snapshot_session(engine) as session:
            snapshot = read_snapshot(session, datetime.now(UTC))
        return evaluate_snapshot(snapshot, config)
    finally:
        engine.dispose()


def segment_report_command(settings: Settings, name: str) -> dict[str, Any] | None:
    """The same report GET /v1/segments/{name}/report gives, on the active model."""
    from api.live import LiveState, ModelCaches
    from api.model_holder import Serving
    from api.services import segments as segment_service

    engine = create_db_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            segment = segment_store.get_segment(session, name)
            model = _active_model(settings, session)
        if segment is None or model is None:
            return None
        live = LiveState(model, margin=timedelta(seconds=settings.live_margin_seconds))
        live.poll(lambda: session_scope(factory, read_only=True))
        with session_scope(factory) as session:
            return segment_service.report(session, Serving(model, live, ModelCaches(model)), name)
    finally:
        engine.dispose()
