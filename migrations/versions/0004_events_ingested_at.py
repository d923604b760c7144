"""events.ingested_at: when the store received an event, so serving can tell the events a
model's snapshot did not contain (late-arriving ones included) with an index read

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=True))
    # Existing events get the migration time: later than any snapshot taken before it, so
    # serving treats them as possibly unknown to the active model (the safe side) until the
    # next training run has seen them.
    events = sa.table("events", sa.column("ingested_at", sa.DateTime(timezone=True)))
    op.execute(events.update().values(ingested_at=datetime.now(UTC)))
    with op.batch_alter_table("events") as batch:
        batch.alter_column("ingested_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_events_item_id_ingested_at", "events", ["item_id", "ingested_at"])
    op.create_index("ix_events_user_id_ingested_at", "events", ["user_id", "ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_events_user_id_ingested_at", table_name="events")
    op.drop_index("ix_events_item_id_ingested_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("ingested_at")
