"""Segments: a named rule over tags, its size, members and persona report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import TEXT_PATTERN, StrictModel, bounded_text
from api.store.tables import Segment


class SegmentIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rule": "age_band in ['25-34','35-44'] and tag('kw:瑜伽') >= 0.2 "
                    "and life = 'silent'",
                    "description": "lapsed yoga fans aged 25-44",
                }
            ]
        }
    )

    rule: Annotated[
        str,
        Field(
            min_length=1,
            max_length=10_000,
            pattern=TEXT_PATTERN,
            examples=[
                "age_band in ['25-34','35-44'] and tag('kw:瑜伽') >= 0.2 and life = 'silent'"
            ],
        ),
    ]
    description: Annotated[str, bounded_text(2_000, multiline=True)] = ""


class SegmentOut(BaseModel):
    name: str
    rule: str
    description: str
    builtin: bool
    size: int | None = Field(description="members at the last refresh; null before any model")
    refreshed_at: datetime | None
    model_version: str | None

    @classmethod
    def from_row(cls, row: Segment) -> SegmentOut:
        return cls(
            name=row.name,
            rule=row.rule,
            description=row.description,
            builtin=row.builtin,
            size=row.size,
            refreshed_at=row.refreshed_at,
            model_version=row.model_version,
        )


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class SegmentUsers(BaseModel):
    segment: str
    users: list[str]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class SegmentReport(BaseModel):
    segment: str
    rule: str
    model_version: str
    report: dict[str, Any]
