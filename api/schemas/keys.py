"""API keys and the audit log, as the admin API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import StrictModel, bounded_text

Scope = Literal["ingest", "serve", "marketing", "admin"]


class KeyIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "crm export", "scopes": ["marketing"]}]},
    )

    name: Annotated[str, bounded_text(128), Field(min_length=1)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=4)]


class KeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="the key itself: shown this once, only its hash is stored")


class KeyList(BaseModel):
    keys: list[KeyOut]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    key_id: str | None
    action: str
    target: str | None
    client: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page")
