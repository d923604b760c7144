"""The batch retraining job: snapshot -> train -> evaluate -> save atomically -> gate -> activate.

Crash safety, step by step: the artifact is written to a temporary directory and renamed into
place, so a kill leaves either nothing or a complete version; the store row is written only
after the artifact is complete; activation is one transaction. Until then serving keeps the
last good model. A stale temp dir from a killed run is swept at the next start.

Exclusion: a run holds the training lock (api.jobs.lock) from start to end, so two runs
(cron + API, two crons) never interleave: the sweep cannot delete a live run's temp dir, and
only one run at a time gates and activates.
"""

from __future__ import annotations

import logging
import time
from array import array
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from api.jobs.lock import TrainingLock
from api.jobs.model_upkeep import keep_model_dir_tidy
from api.settings import Settings
from api.store import models as model_store
from api.store.db import (
    SessionFactory,
    create_db_engine,
    make_session_factory,
    session_scope,
    snapshot_session,
)
from api.store.freshness import read_snapshot_events
from api.store.row_checks import SkippedRows
from api.store.snapshot import read_snapshot
from matching.artifact import remove_stale_temp_dirs
from matching.config import ModelConfig
from matching.model import TrainedModel
from matching.pipeline import gate, train
from matching.progress import Progress, ignore_progress, within

log = logging.getLogger("tagmatch.train")


class NothingToTrain(RuntimeError):
    """The store has no events yet: there is nothing to learn from."""


@dataclass(slots=True)
class TrainOutcome:
    version: str
    activated: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)  # unusable stored rows, by reason

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "activated": self.activated,
            "reason": self.reason,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "skipped_rows": self.skipped,
        }


class BadModelConfig(ValueError):
    """The hyperparameter file is unreadable, or names an unknown field or a value out of range."""


def load_model_config(settings: Settings) -> ModelConfig:
    """The hyperparameters of this run: the file TAGMATCH_MODEL_CONFIG_FILE, else defaults.
    BadModelConfig names every offending field (section.field: message)."""
    if settings.model_config_file is None:
        return ModelConfig()
    path = Path(settings.model_config_file)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise BadModelConfig(f"{path}: cannot read the model config file ({exc})") from exc
    try:
        return ModelConfig.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(file)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BadModelConfig(f"{path}: {problems}") from None


def _previous_model(settings: Settings, path: str | None) -> TrainedModel | None:
    """The active model, so the new tag vocabulary extends its columns instead of renumbering."""
    if path is None:
        return None
    try:
        return TrainedModel.load(settings.model_dir / path)
    except Exception:
        log.warning("active artifact %s unreadable; training from scratch", path, exc_info=True)
        return None


def _tidy_model_dir(settings: Settings, factory: SessionFactory) -> None:
    """Retention and erasure over every stored version, this run's included (an erasure
    committed after its snapshot). The run's own outcome is settled already: a failure here
    is logged and retried (the next run, serving's purger, `tagmatch models purge-erased`),
    not reported as a failed training."""
    try:
        upkeep = keep_model_dir_tidy(settings, factory)
    except Exception:
        log.warning("model directory upkeep failed; the next run retries it", exc_info=True)
        return
    if upkeep.pruned or upkeep.erased_rows:
        log.info(
            "model directory tidied",
            extra={"pruned": upkeep.pruned, "erased_rows": upkeep.erased_rows},
        )


def _new_version(now: datetime, digest: str, model_dir: Path) -> str:
    base = f"{now:%Y%m%dT%H%M%S}Z-{digest[:8]}"
    version, n = base, 1
    while (model_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def run_training(
    settings: Settings,
    *,
    force: bool = False,
    engine: Engine | None = None,
    evaluate: bool = True,
    lock_held: bool = False,
    progress: Progress | None = None,
) -> TrainOutcome:
    """One run under the training lock: TrainingLocked when another run holds it.
    `lock_held`: the caller already holds it (and keeps it around more than this run).
    `progress` hears every stage as it starts, with the fraction of the run done."""
    started = time.monotonic()
    lock: AbstractContextManager[object] = (
        nullcontext() if lock_held else TrainingLock.acquire(settings.model_dir)
    )
    with lock:
        own_engine = engine is None
        engine = engine or create_db_engine(settings.database_url)
        try:
            return _run(
                settings,
                engine,
                force=force,
                evaluate=evaluate,
                started=started,
                progress=progress or ignore_progress,
            )
        finally:
            if own_engine:
                engine.dispose()


def _run(
    settings: Settings,
    engine: Engine,
    *,
    force: bool,
    evaluate: bool,
    started: float,
    progress: Progress,
) -> TrainOutcome:
    config = load_model_config(settings)
    model_dir = settings.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    # Safe only under the lock: any temp dir here is from a run that died, not a live one.
    for stale in remove_stale_temp_dirs(model_dir):
        log.info("removed %s left by an interrupted run", stale)

    now = datetime.now(UTC)
    progress("snapshot", 0.0)
    skipped = SkippedRows()
    read_ids: array[int] = array("q")
    with snapshot_session(engine) as session:
        snapshot = read_snapshot(session, now, skipped, read_ids=read_ids)
        # In the same consistent view: serving then reads exactly what the snapshot did not.
        held = read_snapshot_events(session, now, np.frombuffer(read_ids, dtype=np.int64))
        del read_ids
        active = model_store.active_model_version(session)
        active_path = active.path if active is not None else None
    skipped.report()
    if len(snapshot.events) == 0:
        raise NothingToTrain("the store has no events yet; ingest events (or `tagmatch demo`)")
    log.info(
        "snapshot read",
        extra={
            "users": snapshot.n_users,
            "items": snapshot.n_items,
            "events": len(snapshot.events),
        },
    )

    version = _new_version(now, config.digest(), model_dir)
    # The active model's stored config is its procedure: the paired gate refits it on the
    # same training part and scores both on the same holdout (matching/pipeline.py).
    previous = _previous_model(settings, active_path)
    model = train(snapshot, config, previous, version, evaluate, within(progress, 0.05, 0.9))
    progress("save", 0.9)
    model.save(model_dir / version)
    progress("gate", 0.95)

    accepted, reason = gate(model.metrics, config.eval.tolerance, config.eval.k)
    activate = accepted or force
    if force and not accepted:
        reason = f"forced: {reason}"
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        model_store.create_model_version(
            session,
            version=version,
            config_digest=model.digest,
            path=version,
            snapshot_at=now,
            metrics=model.metrics,
            n_users=snapshot.n_users,
            n_items=snapshot.n_items,
            n_events=len(snapshot.events),
            status="candidate" if activate else "rejected",
            note=reason,
            snapshot_events=None if held is None else held.as_json(),
        )
        if activate:
            model_store.set_active_version(session, version)
    _tidy_model_dir(settings, factory)
    outcome = TrainOutcome(
        version,
        activate,
        reason,
        dict(model.metrics),
        time.monotonic() - started,
        dict(skipped),
    )
    log.info("training finished", extra=outcome.as_dict())
    return outcome
