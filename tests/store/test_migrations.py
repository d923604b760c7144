"""The migrations build exactly the schema tables.py declares, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from api.pseudonyms import person_ref
from api.store.db import create_db_engine
from api.store.migrate import (
    DatabaseNotMigrated,
    alembic_config,
    current_revision,
    head_revision,
    require_head,
    upgrade_to_head,
)
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
        upgrade_to_head(engine)
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT user_id FROM erasures")).scalars())
        assert stored == {person_ref("alice@example.com"), person_ref("bob")}
    finally:
        engine.dispose()
