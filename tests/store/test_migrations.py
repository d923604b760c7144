"""The migrations build exactly the schema tables.py declares, on both backends."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
