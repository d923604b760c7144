from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import NO_CONTROL, ExternalId, StrictModel, TagWeights, bounded_text
from api.schemas.timestamps import Timestamp
from api.store.tables import Item

Category = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_CONTROL)]
TITLE_MAX = 1_000
TEXT_MAX = 100_000


class ItemIn(StrictModel):
    """Fields you send replace the stored ones; fields you leave out keep their value."""

    id: ExternalId
    title: Annotated[str, bounded_text(TITLE_MAX)] = ""
    text: Annotated[str, bounded_text(TEXT_MAX, multiline=True)] = ""
    tags: TagWeights = Field(default_factory=dict)
    category: Category | None = None
    published_at: Timestamp | None = None
    expires_at: Timestamp | None = Field(
        default=None, description="not recommended from this moment on"
    )

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, **{name: getattr(self, name) for name in self.model_fields_set}}


class ItemBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "item-000001",
                            "title": "晨间瑜伽 20 分钟",
                            "text": "适合初学者的晨间瑜伽练习，舒展全身。",
                            "tags": {"cat:sports": 1.0, "kw:瑜伽": 0.9},
                            "category": "sports",
                            "published_at": "2026-11-01T00:00:00Z",
                            "expires_at": "2027-01-01T00:00:00Z",
                        }
                    ]
                }
            ]
        }
    )

    items: list[ItemIn]


class Keyword(BaseModel):
    keyword: str
    weight: float


class ItemOut(BaseModel):
    id: str
    title: str
    text: str
    tags: dict[str, float]
    keywords: list[Keyword] = Field(description="extracted from title and text, best first")
    category: str | None
    published_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, item: Item) -> ItemOut:
        return cls(
            id=item.id,
            title=item.title,
            text=item.text,
            tags=item.tags,
            keywords=[Keyword(keyword=kw, weight=w) for kw, w in item.keywords or []],
            category=item.category,
            published_at=item.published_at,
            expires_at=item.expires_at,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )
