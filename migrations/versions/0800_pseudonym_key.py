"""pseudonyms keyed: a stored random key, and the unkeyed pseudonyms of 0700 rewritten

Revision ID: 0800
Revises: 0700
Create Date: 2026-11-28

An unkeyed SHA-256 of a user id is reversed by hashing candidate ids (emails, sequential
numbers). From here on the pseudonym is HMAC-SHA256(key, 0700's pseudonym): the stored
pseudonyms are keyed without the ids, and old erasures keep matching.
"""

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0800"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0700's pseudonyms; keyed ones start with "person:", so a second upgrade never keys twice.
UNKEYED = re.compile(r"^user:[0-9a-f]{16}$")


def _keyed(key: str, unkeyed: str) -> str:
    # api.pseudonyms.person_ref as of this revision, copied so the migration never changes.
    return "person:" + hmac.new(key.encode(), unkeyed.encode(), hashlib.sha256).hexdigest()[:16]


def upgrade() -> None:
    table = op.create_table(
        "pseudonym_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pseudonym_key")),
    )
    stored = secrets.token_hex(32)
    op.bulk_insert(table, [{"id": 1, "key": stored, "created_at": datetime.now(UTC)}])
    # The key the processes will use: the setting (read as Settings reads it), else the row.
    key = os.environ.get("TAGMATCH_PSEUDONYM_KEY") or stored
    connection = op.get_bind()
    erasures = sa.table("erasures", sa.column("pk", sa.BigInteger), sa.column("user_id", sa.String))
    _rewrite(connection, erasures, erasures.c.pk, erasures.c.user_id, key, None)
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.BigInteger),
        sa.column("action", sa.String),
        sa.column("target", sa.String),
    )
    _rewrite(connection, audit, audit.c.id, audit.c.target, key, audit.c.action == "user.erase")


def _rewrite(
    connection: sa.Connection,
    table: sa.TableClause,
    pk: sa.ColumnClause[int],
    column: sa.ColumnClause[str],
    key: str,
    where: sa.ColumnElement[bool] | None,
) -> None:
    query = sa.select(pk, column).where(column.like("user:%"))
    if where is not None:
        query = query.where(where)
    rows = [
        {"row_pk": row_pk, "ref": _keyed(key, value)}
        for row_pk, value in connection.execute(query)
        if UNKEYED.match(value)
    ]
    if rows:
        connection.execute(
            sa.update(table)
            .where(pk == sa.bindparam("row_pk"))
            .values({column: sa.bindparam("ref")}),
            rows,
        )


def downgrade() -> None:
    # The unkeyed pseudonyms cannot be recovered from keyed ones (that is the point): the
    # stored pseudonyms stay keyed, and revision 0700's code matches none of them.
    op.drop_table("pseudonym_key")
