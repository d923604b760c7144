"""live state: SQLite event ids never reused, events by ingestion time; built-in segments as rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

Serving processes follow new events by their primary key (a watermark). SQLite without
AUTOINCREMENT reuses the largest rowid once the newest rows are deleted (an erasure does
that), which would hide new events behind the watermark; AUTOINCREMENT never reuses one.
PostgreSQL sequences never reuse values, so only SQLite's table is rebuilt. A serving
process's first read for a new model asks for what arrived since its snapshot: an index on
events.ingested_at.

The built-in lifecycle segments used to be created by the first GET that needed them (a
write inside a read); they now exist from this migration on.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration must not change when the code does): matching.segments.BUILTIN_SEGMENTS.
BUILTIN = ("new", "active", "silent", "churned")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_index("ix_events_ingested_at", "events", ["ingested_at"])
    segments = sa.table(
        "segments",
        sa.column("name", sa.String),
        sa.column("rule", sa.Text),
        sa.column("description", sa.Text),
        sa.column("builtin", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    existing = {row[0] for row in bind.execute(sa.text("SELECT name FROM segments"))}
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # the store keeps UTC without a zone on SQLite
    rows = [
        {
            "name": f"life-{stage}",
            "rule": f"life = '{stage}'",
            "description": f"built-in: lifecycle stage life = '{stage}'",
            "builtin": True,
            "created_at": now,
            "updated_at": now,
        }
        for stage in BUILTIN
        if f"life-{stage}" not in existing
    ]
    if rows:
        op.bulk_insert(segments, rows)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM segments WHERE builtin AND name LIKE 'life-%'"))
    op.drop_index("ix_events_ingested_at", table_name="events")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "events", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
