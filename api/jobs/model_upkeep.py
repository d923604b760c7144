"""Keeping the model directory within bounds after a training run: old versions beyond the
retention count are deleted, and erased users are removed from every version not served.

Both run under the training lock (api.jobs.lock), like training itself, so they never race a
run that is writing or activating a version. The active version is never touched: it is
memory-mapped by serving. Its erased users are hidden by api.live until the next run replaces
it; then it becomes inactive and the next purge rewrites it.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from api.jobs.lock import TrainingLock
from api.pseudonyms import person_ref
from api.settings import Settings
from api.store.db import SessionFactory, create_db_engine, make_session_factory, session_scope
from api.store.tables import Erasure, ModelVersion
from matching.erasure import erase_users_from_version

log = logging.getLogger("tagmatch.models")

PRUNED = "pruned"


@dataclass(slots=True)
class UpkeepOutcome:
    pruned: list[str]
    erased_rows: dict[str, int]  # version -> user rows tombstoned in it


def prune_old_versions(factory: SessionFactory, model_dir: Path, keep: int) -> list[str]:
    """Delete the artifacts of versions older than the newest `keep`, except the active one;
    their rows stay, with status 'pruned' (GET /v1/models keeps listing them, truthfully).

    The row is marked first, only while it is not active, and activation refuses a pruned row
    (api.store.models.set_active_version): a concurrent rollback to the same version either
    wins, and its files stay, or finds it pruned. A crash after the mark leaves files of a
    pruned row, which the next call deletes."""
    with session_scope(factory) as session:
        rows = session.execute(
            select(
                ModelVersion.version,
                ModelVersion.path,
                ModelVersion.status,
                ModelVersion.is_active,
            ).order_by(ModelVersion.created_at.desc(), ModelVersion.version.desc())
        ).all()
    kept = [row for row in rows if row.status != PRUNED]
    doomed = [row for row in kept[keep:] if not row.is_active]
    pruned: list[str] = []
    for row in doomed:
        with session_scope(factory) as session:
            marked = session.execute(
                update(ModelVersion)
                .where(ModelVersion.version == row.version, ModelVersion.is_active.is_(False))
                .values(status=PRUNED)
            ).rowcount  # type: ignore[attr-defined]
        if marked:
            shutil.rmtree(model_dir / row.path, ignore_errors=True)
            pruned.append(row.version)
            log.info("pruned model version %s", row.version)
    for row in rows:  # files a crash left behind a pruned row
        if row.status == PRUNED and (model_dir / row.path).exists():
            shutil.rmtree(model_dir / row.path, ignore_errors=True)
    return pruned


def purge_erased_users(factory: SessionFactory, model_dir: Path) -> dict[str, int]:
    """Tombstone every erased user in every stored version except the active one; returns the
    rows rewritten per version (versions with none are left out)."""
    with session_scope(factory) as session:
        erased = set(session.scalars(select(Erasure.user_id)))
        versions = session.execute(
            select(ModelVersion.version, ModelVersion.path).where(
                ModelVersion.status != PRUNED, ModelVersion.is_active.is_(False)
            )
        ).all()
    if not erased:
        return {}
    rewritten: dict[str, int] = {}
    for version, path in versions:
        if not (model_dir / path).is_dir():
            continue
        count = erase_users_from_version(
            model_dir / path, lambda user_id: person_ref(user_id) in erased
        )
        if count:
            rewritten[version] = count
            log.info("erased %d users from model version %s", count, version)
    return rewritten


def keep_model_dir_tidy(factory: SessionFactory, model_dir: Path, keep: int) -> UpkeepOutcome:
    pruned = prune_old_versions(factory, model_dir, keep)
    return UpkeepOutcome(pruned, purge_erased_users(factory, model_dir))


def purge_erased_command(settings: Settings) -> UpkeepOutcome:
    """`tagmatch models purge-erased`: retention, then erased users out of every inactive
    version, under the training lock (TrainingLocked while a run holds it)."""
    with TrainingLock.acquire(settings.model_dir):
        engine = create_db_engine(settings.database_url)
        try:
            factory = make_session_factory(engine)
            return keep_model_dir_tidy(factory, settings.model_dir, settings.model_retention)
        finally:
            engine.dispose()
