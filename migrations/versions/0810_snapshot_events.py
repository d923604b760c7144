"""model_versions.snapshot_events: exactly which events the version's training snapshot read

Revision ID: 0810
Revises: 0800
Create Date: 2026-11-28

A serving process reads the events a new model does not hold. Without this record it reads a
minute before the snapshot again and checks each row against the model; with it, it reads
only ids the snapshot did not see (api.store.freshness.SnapshotEvents). NULL (versions
trained before) keeps the old way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0810"
down_revision: str | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite): the partial unique index stays as it is.
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.add_column("model_versions", sa.Column("snapshot_events", json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("snapshot_events")
