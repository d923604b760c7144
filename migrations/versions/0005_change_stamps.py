"""items.window_changed_at and users.consent_changed_at: stamps that move only when what
serving re-reads after a snapshot really changes, so re-sending unchanged records (a nightly
catalogue sync) no longer makes every request re-read them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMPS = (("items", "window_changed_at"), ("users", "consent_changed_at"))


def upgrade() -> None:
    for table, column in STAMPS:
        op.add_column(table, sa.Column(column, sa.DateTime(timezone=True), nullable=True))
        # updated_at is never earlier than the last real change: the safe side.
        op.execute(sa.text(f"UPDATE {table} SET {column} = updated_at"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.DateTime(timezone=True), nullable=False)
        op.create_index(f"ix_{table}_{column}", table, [column])
        # updated_at was indexed only for these reads.
        op.drop_index(f"ix_{table}_updated_at", table_name=table)


def downgrade() -> None:
    for table, column in reversed(STAMPS):
        op.create_index(f"ix_{table}_updated_at", table, ["updated_at"])
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
