from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import ExternalId, StrictModel
from api.schemas.timestamps import Timestamp

# Events feed float32 arrays and sums (RFM monetary): far inside float32 range.
VALUE_MAX = 1e12

EventType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$"),
    Field(
        description="one of the types weighted in the model configuration (events.weights: "
        "view, click, rating, like, favorite, share, comment, purchase by default) or "
        "listed in TAGMATCH_EXTRA_EVENT_TYPES; any other is refused",
        examples=["click"],
    ),
]


class EventIn(StrictModel):
    id: ExternalId = Field(description="client event id: a resend with the same id is a no-op")
    user_id: ExternalId
    item_id: ExternalId
    type: EventType
    value: float | None = Field(
        default=None,
        ge=-VALUE_MAX,
        le=VALUE_MAX,
        allow_inf_nan=False,
        description="rating, amount; |value| <= 1e12",
    )
    ts: Timestamp = Field(description="when it happened, ISO 8601 with a zone")

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "evt-000001",
                            "user_id": "user-000001",
                            "item_id": "item-000001",
                            "type": "click",
                            "ts": "2026-11-27T20:15:00Z",
                        },
                        {
                            "id": "evt-000002",
                            "user_id": "user-000001",
                            "item_id": "item-000001",
                            "type": "purchase",
                            "value": 39.9,
                            "ts": "2026-11-27T20:17:30Z",
                        },
                    ]
                }
            ]
        }
    )

    events: list[EventIn]


def unknown_event_types(
    events: Sequence[EventIn], known: Collection[str], *, loc: Sequence[str | int] = ("body",)
) -> list[dict[str, Any]]:
    """Field errors for events whose type is not configured: a typo (`clik`) would otherwise
    be stored and trained on with a guessed weight."""
    listed = ", ".join(sorted(known))
    return [
        {
            "loc": [*loc, "events", index, "type"],
            "msg": f"unknown event type {event.type!r}; known: {listed} "
            "(add it to the model configuration's events.weights or TAGMATCH_EXTRA_EVENT_TYPES)",
        }
        for index, event in enumerate(events)
        if event.type not in known
    ]


class EventsAccepted(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events already stored, or repeated in this request")
