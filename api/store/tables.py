"""The schema, as SQLAlchemy 2 typed declarative classes. Every change here needs a migration
(migrations/); tests/store/test_migrations.py fails when the two disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128

# Constraint names are part of the schema: fixed names keep SQLite batch migrations and
# PostgreSQL in step.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend.

    SQLite has no zone type and hands back naive values; they are stored as UTC, so the
    zone is re-attached on the way out. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL: binary, indexable, and what operators expect to query.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"
    # Serving reads "consent changed since the model's snapshot" on every push list, and every
    # serving process polls "changed since" (updated_at) twice a second.
    __table_args__ = (
        Index("ix_users_consent_changed_at", "consent_changed_at"),
        Index("ix_users_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {tag: weight}
    push_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Moves only when push_consent really changes, unlike updated_at, which every re-sent
    # profile moves: a nightly full sync must not make every push list re-read all users.
    consent_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Timestamped, Base):
    __tablename__ = "items"
    # Serving reads "changed since the model's snapshot" (deletions, windows) per request, and
    # every serving process polls "changed since" (updated_at) twice a second.
    __table_args__ = (
        Index("ix_items_window_changed_at", "window_changed_at"),
        Index("ix_items_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {tag: weight}
    # [[keyword tag, weight], ...] extracted from title/text; NULL until tagging ran.
    keywords: Mapped[list[Any] | None] = mapped_column(JSONType, nullable=True)
    category: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Moves only when deleted, published_at or expires_at really change (see User).
    window_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_id_ts", "user_id", "ts"),
        Index("ix_events_item_id_ts", "item_id", "ts"),
        Index("ix_events_ts", "ts"),
        # What a snapshot cannot have contained: serving's exclusion of seen items and users.
        Index("ix_events_item_id_ingested_at", "item_id", "ingested_at"),
        Index("ix_events_user_id_ingested_at", "user_id", "ingested_at"),
        # A serving process's first read for a new model: what arrived since its snapshot.
        Index("ix_events_ingested_at", "ingested_at"),
        # A serving process's first read for a new model: what arrived since its snapshot.
        Index("ix_events_ingested_at", "ingested_at"),
        # Serving follows new events by pk: SQLite must never reuse one (migration 0007).
        {"sqlite_autoincrement": True},
    )

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    item_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("items.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    ts: Mapped[datetime]  # when it happened, as the client says
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the store got it


class Erasure(Base):
    """Tombstone of an erased user: serving drops them from answers of older models."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_erased_at", "erased_at"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # person_ref(id) (api.pseudonyms), never the id itself; the name is the schema's.
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


class PseudonymKey(Base):
    """The key of api.pseudonyms when TAGMATCH_PSEUDONYM_KEY is unset: one row (id 1),
    random, written by migration 0800, so every process of a deployment agrees."""

    __tablename__ = "pseudonym_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# pruned: deleted from disk by the retention count (TAGMATCH_MODEL_RETENTION); the row stays.
MODEL_STATUSES = ("candidate", "active", "retired", "rejected", "pruned")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active version, whatever two concurrent activations do.
        Index(
            "uq_model_versions_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    config_digest: Mapped[str] = mapped_column(String(128))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    path: Mapped[str] = mapped_column(Text)
    snapshot_at: Mapped[datetime]
    n_users: Mapped[int] = mapped_column(Integer, default=0)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_events: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    # Which events the snapshot read (api.store.freshness.SnapshotEvents); NULL: not recorded.
    snapshot_events: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


JOB_STATUSES = ("queued", "running", "succeeded", "failed")


UNFINISHED_JOB_SQL = "status IN ('queued', 'running')"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_kind_status", "kind", "status"),
        # At most one queued or running job per kind, enforced by the store: replicas that
        # both pass the "is one running?" check cannot both create one.
        Index(
            "uq_jobs_unfinished_kind",
            "kind",
            unique=True,
            sqlite_where=text(UNFINISHED_JOB_SQL),
            postgresql_where=text(UNFINISHED_JOB_SQL),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(String(64))  # what a running job is doing
    progress: Mapped[float | None] = mapped_column(Float)  # fraction of the job done, 0..1


class Segment(Timestamped, Base):
    """A named rule over tags; its membership is materialised in segment_members."""

    __tablename__ = "segments"

    name: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    rule: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    size: Mapped[int | None] = mapped_column(Integer)
    refreshed_at: Mapped[datetime | None]
    model_version: Mapped[str | None] = mapped_column(String(64))


class SegmentMember(Base):
    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_user_id", "user_id"),)

    segment: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("segments.name", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class PushList(Base):
    """A stored push target list. item_id has no foreign key: history outlives the item."""

    __tablename__ = "push_lists"
    __table_args__ = (Index("ix_push_lists_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_version: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    size: Mapped[int] = mapped_column(Integer, default=0)


class PushListMember(Base):
    __tablename__ = "push_list_members"
    # Frequency caps count a user's recent pushes: (user_id, pushed_at).
    __table_args__ = (Index("ix_push_list_members_user_id_pushed_at", "user_id", "pushed_at"),)

    list_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("push_lists.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only the SHA-256 of its secret is kept (api/store/keys.py)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Append-only: who did what to which target, when, from where (api/store/audit.py).
    Targets that name a person (an erased user) are stored hashed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
