"""Service settings, read from the environment (prefix TAGMATCH_) or passed in code.

Nothing is read at import time: `Settings()` is built by the CLI or by `create_app`, so tests
and several apps in one process can each carry their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAGMATCH_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./tagmatch.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    model_dir: Path = Field(
        default=Path("./models"), description="artifact directory, one dir per version"
    )
    model_retention: int = Field(
        default=3,
        ge=1,
        description="model versions kept on disk after a training run: the newest this many, "
        "plus the active one; older ones are deleted and listed with status 'pruned'",
    )
    model_config_file: Path | None = Field(
        default=None,
        description="JSON file of matching.config.ModelConfig; default settings if unset",
    )
    log_level: LogLevel = Field(
        default="INFO", description="least severe log level written (libraries' chatter is DEBUG)"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="json: one JSON object per line; text: readable lines for a terminal; "
        "auto: text when stderr is a terminal, json otherwise",
    )
    max_batch: int = Field(default=10_000, ge=1, description="records per ingest request")
    extra_event_types: list[str] = Field(
        default_factory=list,
        description="event types accepted besides those weighted in the model configuration "
        "(events.weights; these weigh events.unknown_type_weight); any other type is refused "
        "with 422, so a typo is never stored",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="when set, /v1 requires `Authorization: Bearer <key>` or `X-API-Key: <key>`",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description=(
            "the secret keying the pseudonyms that stand for user ids in logs, the audit log "
            "and erasures (HMAC-SHA256); unset: a random key the database keeps (made by "
            "`tagmatch db upgrade`). Set it to keep the key out of database dumps; changing "
            "it later loses the matching of earlier pseudonyms (docs/operations.md)"
        ),
    )
    model_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often to look for a new model, and for erasures not yet purged from "
        "the model directory (made by another replica, or cut short by a crash)",
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description=(
            "signs the console's session cookies; needed for the console when keys are "
            "created with `tagmatch keys` and no TAGMATCH_API_KEY is set (else that key signs)"
        ),
    )
    search_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description=(
            "threads one FAISS search may use in a serving process; 1 because concurrent "
            "requests already fill the cores through the workers, and waking a thread team for "
            "one small search costs more than the search (top 100 of 10 000 users: 0.9 ms of "
            "CPU with 2 threads, 0.07 ms with 1). Training is not affected"
        ),
    )
    live_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description=(
            "how often each serving process reads what changed in the store (deletions, "
            "expiry, consent, erasures, new users and events); a write acknowledged by one "
            "process counts in every other process's answers within about this long (its own "
            "next answer counts it at once)"
        ),
    )
    live_margin_seconds: float = Field(
        default=30.0,
        ge=0,
        description=(
            "how far behind the newest change each read starts again: covers writes that "
            "commit late (a write waits up to sqlite_busy_timeout_ms for the lock) and clock "
            "skew between API hosts"
        ),
    )
    live_stale_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "answers from a live state not refreshed for this long (store unreachable) carry "
            "the header `Tagmatch-Live-State: stale; age=<seconds>`"
        ),
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed by CORS; empty list: CORS off"
    )
    db_pool_size: int = Field(
        default=5, ge=1, description="connections kept per process (PostgreSQL)"
    )
    sqlite_busy_timeout_ms: int = Field(
        default=10_000, ge=0, description="wait this long for a lock"
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="request bodies larger than this are answered 413 before they are parsed",
    )
    timestamp_min: datetime = Field(
        default=datetime(1970, 1, 1, tzinfo=UTC),
        description="timestamps sent (event ts, item dates) must not be earlier than this",
    )
    timestamp_max: datetime = Field(
        default=datetime(2100, 1, 1, tzinfo=UTC),
        description="timestamps sent must be earlier than this",
    )
    db_connect_timeout_seconds: float = Field(
        default=2.0, gt=0, description="PostgreSQL: give up connecting after this long (503)"
    )
    db_statement_timeout_seconds: float = Field(
        default=4.0,
        gt=0,
        description="PostgreSQL: a request's statement is cancelled after this long (503); "
        "the connection is cut when even the cancel gets no answer (a stalled server)",
    )
    db_pool_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="wait this long for a free pooled connection, then answer 503 Retry-After",
    )
    failed_key_limit: int = Field(
        default=10, ge=1, description="failed API keys from one client address before 429"
    )
    failed_key_window_seconds: float = Field(
        default=60.0, gt=0, description="the window in which failed keys are counted"
    )
    protect_operations: bool = Field(
        default=False,
        description="when true, /metrics needs an admin key and /docs and /openapi.json any "
        "valid key (when authentication is on)",
    )
