"""erasures keep the erased user only by pseudonym, not by id

Revision ID: 0700
Revises: 0200
Create Date: 2026-11-28
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0700"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _person_ref(user_id: str) -> str:
    # api.pseudonyms.person_ref as of this revision, copied so the migration never changes.
    return "user:" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def upgrade() -> None:
    # Every row written before this revision holds a plain id; rewrite each to its pseudonym.
    erasures = sa.table("erasures", sa.column("pk", sa.BigInteger), sa.column("user_id", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(erasures.c.pk, erasures.c.user_id)).all()
    for pk, user_id in rows:
        connection.execute(
            sa.update(erasures).where(erasures.c.pk == pk).values(user_id=_person_ref(user_id))
        )


def downgrade() -> None:
    # The ids are gone by design; a downgrade keeps the pseudonyms (serving then matches none).
    pass
