"""at most one queued or running job per kind, enforced by a partial unique index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    # Older versions could leave several unfinished jobs of a kind (one whose process died,
    # then another): keep the newest, fail the rest, or the index cannot be built.
    op.execute(
        sa.text(
            f"UPDATE jobs SET status = 'failed', error = 'superseded by a newer job' "
            f"WHERE {UNFINISHED} AND id NOT IN (SELECT id FROM jobs AS newest WHERE "
            f"newest.kind = jobs.kind AND newest.{UNFINISHED} "
            f"ORDER BY newest.created_at DESC LIMIT 1)"
        )
    )
    op.create_index(
        "uq_jobs_unfinished_kind",
        "jobs",
        ["kind"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_unfinished_kind", table_name="jobs")
