"""POST /v1/push-lists request and the stored list."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from api.schemas.common import NO_CONTROL, ExternalId, StrictModel
from api.schemas.serving import ScoredUser

MAX_SIZE = 10_000


class FrequencyCap(StrictModel):
    max: Annotated[int, Field(ge=1, le=1_000, description="pushes allowed per window")]
    hours: Annotated[float, Field(gt=0, le=24 * 365, description="window length")]


class PushListRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "item-000001",
                    "size": 1000,
                    "segment": "life-silent",
                    "exclude_seen": True,
                    "frequency_cap": {"max": 1, "hours": 24},
                }
            ]
        }
    )

    item_id: ExternalId
    size: Annotated[int, Field(ge=1, le=MAX_SIZE)] = 1000
    segment: Annotated[str | None, Field(min_length=1, max_length=128, pattern=NO_CONTROL)] = None
    tag: Annotated[str | None, Field(min_length=1, max_length=128, pattern=NO_CONTROL)] = None
    exclude_seen: bool = True
    frequency_cap: FrequencyCap | None = None


class PushListOut(StrictModel):
    id: str
    item_id: str
    created_at: datetime
    model_version: str | None
    request: dict[str, object]
    users: list[ScoredUser]


class PushListSummary(StrictModel):
    """A saved list without its members (GET /v1/push-lists/{id} has them)."""

    id: str
    item_id: str
    created_at: datetime
    model_version: str | None
    size: int
    request: dict[str, object]


class PushListPage(StrictModel):
    push_lists: list[PushListSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next, older page")


def encode_cursor(position: tuple[datetime, str] | None) -> str | None:
    """An opaque cursor for the page after (created_at, id)."""
    if position is None:
        return None
    created_at, list_id = position
    raw = f"{created_at.isoformat()}|{list_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; ValueError when it is not one this API handed out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, list_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not a cursor from GET /v1/push-lists") from error
    if created_at.tzinfo is None or not list_id:
        raise ValueError("not a cursor from GET /v1/push-lists")
    return created_at, list_id
