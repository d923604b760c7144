"""users.updated_at and items.updated_at indexes: the live poll's "changed since"

Revision ID: 0820
Revises: 0810
Create Date: 2026-11-28

Every serving process reads the users and items changed since its last read, twice a second
(api.store.freshness). Without an index each read scanned the whole table: 100 000 users, 4
times a second with two workers, a tenth of a core of PostgreSQL for an idle service, and 10x
that at a million users.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0820"
down_revision: str | None = "0810"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_updated_at", "users", ["updated_at"])
    op.create_index("ix_items_updated_at", "items", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_items_updated_at", table_name="items")
    op.drop_index("ix_users_updated_at", table_name="users")
