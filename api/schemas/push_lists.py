"""POST /v1/push-lists request and the stored list."""

from __future__ import annotations

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
