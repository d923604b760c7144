from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from api.schemas.common import ExternalId, StrictModel

EventType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$"),
    Field(description="view, click, like, purchase, rating, ... (weights come from the config)"),
]


class EventIn(StrictModel):
    id: ExternalId = Field(description="client event id: a resend with the same id is a no-op")
    user_id: ExternalId
    item_id: ExternalId
    type: EventType
    value: float | None = Field(default=None, allow_inf_nan=False, description="rating, amount")
    ts: AwareDatetime = Field(description="when it happened, ISO 8601 with a zone")

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.id,
            "user_id": self.user_id,
            "item_id": self.item_id,
            "type": self.type,
            "value": self.value,
            "ts": self.ts,
        }


class EventBatch(StrictModel):
    events: list[EventIn]


class EventsAccepted(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events already stored, or repeated in this request")
