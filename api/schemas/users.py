from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Attributes, ExternalId, StrictModel, TagWeights
from api.store.tables import User


class Consent(StrictModel):
    push: bool = Field(default=False, description="may receive push messages")


class UserIn(StrictModel):
    """Fields you send replace the stored ones; fields you leave out keep their value."""

    id: ExternalId
    attributes: Attributes = Field(
        default_factory=dict, description='e.g. {"age": 31, "gender": "f", "region": "上海"}'
    )
    tags: TagWeights = Field(default_factory=dict)
    consent: Consent = Field(default_factory=Consent)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id}
        sent = self.model_fields_set
        if "attributes" in sent:
            record["attributes"] = self.attributes
        if "tags" in sent:
            record["tags"] = self.tags
        if "consent" in sent:
            record["push_consent"] = self.consent.push
        return record


class UserBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {
                            "id": "user-000001",
                            "attributes": {"age": 29, "gender": "f", "region": "上海"},
                            "tags": ["kw:瑜伽", "cat:sports"],
                            "consent": {"push": True},
                        },
                        {"id": "user-000002", "tags": {"genre:Comedy": 0.8}},
                    ]
                }
            ]
        }
    )

    users: list[UserIn]


class UserOut(BaseModel):
    id: str
    attributes: dict[str, Any]
    tags: dict[str, float]
    consent: Consent
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            attributes=user.attributes,
            tags=user.tags,
            consent=Consent(push=user.push_consent),
            created_at=user.created_at,
            updated_at=user.updated_at,
        )
