"""indexes for serving's per-request reads: items/users changed since a snapshot, an item's
events by time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_updated_at", "items", ["updated_at"])
    op.create_index("ix_users_updated_at", "users", ["updated_at"])
    op.create_index("ix_events_item_id_ts", "events", ["item_id", "ts"])
    op.drop_index("ix_events_item_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_item_id", "events", ["item_id"])
    op.drop_index("ix_events_item_id_ts", table_name="events")
    op.drop_index("ix_users_updated_at", table_name="users")
    op.drop_index("ix_items_updated_at", table_name="items")
