"""The migrations build exactly the schema tables.py declares, on both backends."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import Engine, inspect, text

from api.pseudonyms import PseudonymKeyMissing, forget_key, person_ref, unkeyed_ref
from api.store.db import create_db_engine, make_session_factory
from api.store.migrate import (
    DatabaseNotMigrated,
    alembic_config,
    current_revision,
    head_revision,
    require_head,
    upgrade_to_head,
)
from api.store.pseudonym_key import load_pseudonym_key, stored_key
from api.store.tables import Base


def test_migration_head_matches_the_declared_tables(migrated_url: str) -> None:
    engine = create_db_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"tables.py and the migrations disagree; add a migration: {diff}"
        assert current_revision(engine) == head_revision()
        require_head(engine)
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(migrated_url: str) -> None:
    engine = create_db_engine(migrated_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_to_head(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_unmigrated_database_is_refused_with_the_fix(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="run: tagmatch db upgrade"):
            require_head(engine)
    finally:
        engine.dispose()


def test_0006_keeps_the_newest_of_several_unfinished_jobs(migrated_url: str) -> None:
    """Before 0006 a dead job could stay 'running' beside a newer one; the unique index can
    only be built once all but the newest unfinished job of a kind are failed."""
    engine = create_db_engine(migrated_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        with engine.begin() as connection:
            for job_id, kind, status, minute in [
                ("old", "train", "running", 1),
                ("new", "train", "queued", 2),
                ("done", "train", "succeeded", 3),
                ("lone", "report", "running", 1),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO jobs (id, kind, status, created_at) "
                        "VALUES (:id, :kind, :status, :created_at)"
                    ),
                    {
                        "id": job_id,
                        "kind": kind,
                        "status": status,
                        "created_at": datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
                    },
                )
        upgrade_to_head(engine)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM jobs")).all()
        assert dict(rows) == {
            "old": "failed",
            "new": "queued",
            "done": "succeeded",
            "lone": "running",
        }
    finally:
        engine.dispose()


def test_0700_replaces_erased_ids_by_their_pseudonyms(migrated_url: str) -> None:
    """Before 0700 the erasures table held the erased id itself: the upgrade leaves only the
    pseudonym serving (api.live) now looks erasures up by."""
    engine = create_db_engine(migrated_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0200")
        with engine.begin() as connection:
            for user_id in ("alice@example.com", "bob"):
                connection.execute(
                    text("INSERT INTO erasures (user_id, erased_at) VALUES (:u, :at)"),
                    {"u": user_id, "at": datetime(2026, 1, 1, tzinfo=UTC)},
                )
        upgrade_to_head(engine)  # 0700, then 0800 keys them
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT user_id FROM erasures")).scalars())
        load_pseudonym_key(make_session_factory(engine), None)
        assert stored == {person_ref("alice@example.com"), person_ref("bob")}
    finally:
        engine.dispose()


def _erasures_and_audit(engine: Engine) -> tuple[set[str], dict[str, str]]:
    with engine.connect() as connection:
        erased = set(connection.execute(text("SELECT user_id FROM erasures")).scalars())
        audit = dict(connection.execute(text("SELECT action, target FROM audit_log")).all())
    return erased, audit


@pytest.mark.parametrize("configured", [None, "a-key-set-in-the-environment"])
def test_0800_keys_the_stored_pseudonyms_without_the_ids(
    migrated_url: str, configured: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0700's pseudonyms (an unkeyed hash, reversible by enumeration) become keyed ones that
    still match: under the setting when it is set, else under the key 0800 stores."""
    if configured is not None:
        monkeypatch.setenv("TAGMATCH_PSEUDONYM_KEY", configured)
    engine = create_db_engine(migrated_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0700")
        assert "pseudonym_key" not in inspect(engine).get_table_names()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO erasures (user_id, erased_at) VALUES (:u, :at)"),
                [{"u": unkeyed_ref(u), "at": at} for u in ("alice@example.com", "42")],
            )
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, action, target, detail) "
                    "VALUES (:at, :action, :target, '{}')"
                ),
                [
                    {"at": at, "action": "user.erase", "target": unkeyed_ref("42")},
                    {"at": at, "action": "segment.create", "target": "user:0123456789abcdef"},
                ],
            )
        upgrade_to_head(engine)
        erased, audit = _erasures_and_audit(engine)
        factory = make_session_factory(engine)
        load_pseudonym_key(factory, None if configured is None else SecretStr(configured))
        assert erased == {person_ref("alice@example.com"), person_ref("42")}
        assert audit == {"user.erase": person_ref("42"), "segment.create": "user:0123456789abcdef"}
        assert not any(unkeyed_ref(u) in erased for u in ("alice@example.com", "42"))
        key = stored_key(factory)
        assert len(key) == 64 and person_ref("42").startswith("person:")

        # Down and up again: the stored pseudonyms are not keyed twice (only the key row
        # is new: what 0800's downgrade says it loses).
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0700")
        upgrade_to_head(engine)
        assert _erasures_and_audit(engine) == (erased, audit)
        assert stored_key(factory) != key
    finally:
        engine.dispose()


def test_the_pseudonym_is_keyed_and_the_key_is_per_database(
    migrated_url: str, tmp_path: Path
) -> None:
    """Without the key, hashing candidate ids finds nothing; two deployments (two random
    keys) name one id differently; the setting wins over the stored key."""
    engine = create_db_engine(migrated_url)
    other = create_db_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        upgrade_to_head(other)
        load_pseudonym_key(make_session_factory(engine), None)
        here = person_ref("alice@example.com")
        assert here == person_ref("alice@example.com")  # stable: logs still correlate
        assert here != unkeyed_ref("alice@example.com").replace("user:", "person:")
        load_pseudonym_key(make_session_factory(other), None)
        assert person_ref("alice@example.com") != here
        load_pseudonym_key(make_session_factory(other), SecretStr("x" * 16))
        mac = hmac.new(b"x" * 16, unkeyed_ref("alice@example.com").encode(), hashlib.sha256)
        assert person_ref("alice@example.com") == "person:" + mac.hexdigest()[:16]
        forget_key()
        with pytest.raises(PseudonymKeyMissing):
            person_ref("alice@example.com")
    finally:
        engine.dispose()
        other.dispose()
