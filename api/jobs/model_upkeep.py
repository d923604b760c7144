"""Keeping the model directory within bounds: old versions beyond the retention count are
deleted, and erased users are removed from every stored version, the served one included.

Both run under the training lock (api.jobs.lock), like training itself, so they never race a
run that is writing or activating a version. They run after every training run, from
`tagmatch models purge-erased`, and from serving soon after an erasure (api.jobs.
erasure_purger). Rewriting the served version is safe: matching.erasure renames new files
over the old ones, so a serving process keeps reading the files it mapped (and hides the
person through api.live), and one that loads the version afterwards finds tombstones.

A watermark file in the model directory records which erasures a completed purge covered
(their count and highest key): serving compares it with the store to know whether a purge
is due, so replicas do not each rescan every version after every erasure.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.jobs.lock import TrainingLock
from api.pseudonyms import person_ref
from api.settings import Settings
from api.store.db import SessionFactory, create_db_engine, make_session_factory, session_scope
from api.store.pseudonym_key import load_pseudonym_key
from api.store.tables import Erasure, ModelVersion
from matching.erasure import erase_users_from_version, replace_file

log = logging.getLogger("tagmatch.models")

PRUNED = "pruned"
WATERMARK = ".erasures-purged.json"  # no ids in it: a count and a key

ErasureMark = tuple[int, int | None]  # (erasures in the store, their highest pk)


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


def _erasure_mark(session: Session) -> ErasureMark:
    count, top = session.execute(select(func.count(), func.max(Erasure.pk))).one()
    return int(count), None if top is None else int(top)


def _purged_mark(model_dir: Path) -> ErasureMark | None:
    try:
        saved = json.loads((model_dir / WATERMARK).read_text("utf-8"))
        return int(saved["count"]), None if saved["max_pk"] is None else int(saved["max_pk"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: a purge is due


def purge_due(factory: SessionFactory, model_dir: Path) -> bool:
    """True when the store holds erasures that no completed purge of this model directory
    covered, and there is a version to purge. A count beside the highest key: an erasure
    committing late with a lower key still changes the count (rows are never deleted)."""
    with session_scope(factory, read_only=True) as session:
        mark = _erasure_mark(session)
        stored = session.scalar(
            select(ModelVersion.version).where(ModelVersion.status != PRUNED).limit(1)
        )
    return mark[0] > 0 and stored is not None and _purged_mark(model_dir) != mark


def purge_erased_users(factory: SessionFactory, model_dir: Path) -> dict[str, int]:
    """Tombstone every erased user in every stored version, the active one included; returns
    the rows rewritten per version (versions with none are left out). Then the watermark
    says these erasures are done; a failure before it leaves the purge due."""
    with session_scope(factory, read_only=True) as session:
        mark = _erasure_mark(session)  # before the pseudonyms: they cover at least this
        erased = set(session.scalars(select(Erasure.user_id)))
        versions = session.execute(
            select(ModelVersion.version, ModelVersion.path).where(ModelVersion.status != PRUNED)
        ).all()
    rewritten: dict[str, int] = {}
    for version, path in versions if erased else ():
        if not (model_dir / path).is_dir():
            continue
        count = erase_users_from_version(
            model_dir / path, lambda user_id: person_ref(user_id) in erased
        )
        if count:
            rewritten[version] = count
            log.info("erased %d users from model version %s", count, version)
    text = json.dumps({"count": mark[0], "max_pk": mark[1]})
    replace_file(model_dir / WATERMARK, text)
    return rewritten


def keep_model_dir_tidy(settings: Settings, factory: SessionFactory) -> UpkeepOutcome:
    """Retention, then erased users out of every version. The caller holds the lock."""
    load_pseudonym_key(factory, settings.pseudonym_key)
    model_dir = settings.model_dir
    pruned = prune_old_versions(factory, model_dir, settings.model_retention)
    return UpkeepOutcome(pruned, purge_erased_users(factory, model_dir))


def purge_erased_command(settings: Settings, *, if_due: bool = False) -> UpkeepOutcome:
    """`tagmatch models purge-erased`: retention, then erased users out of every version,
    under the training lock (TrainingLocked while a run holds it). `if_due`: nothing at all
    unless an erasure is not yet purged (what serving launches after an erasure)."""
    with TrainingLock.acquire(settings.model_dir):
        engine = create_db_engine(settings.database_url)
        try:
            factory = make_session_factory(engine)
            if if_due and not purge_due(factory, settings.model_dir):
                return UpkeepOutcome([], {})
            return keep_model_dir_tidy(settings, factory)
        finally:
            engine.dispose()
