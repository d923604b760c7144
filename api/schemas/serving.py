"""Responses of the serving endpoints: recommendations, similar items, audiences."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from matching.model import Scored


class ScoredItem(BaseModel):
    item_id: str
    score: float
    reasons: list[str] = Field(description="shared tags, strongest first; or a CF reason")

    @classmethod
    def of(cls, scored: Scored) -> ScoredItem:
        return cls(item_id=scored.id, score=round(scored.score, 6), reasons=scored.reasons)


class ScoredUser(BaseModel):
    user_id: str
    score: float
    reasons: list[str]

    @classmethod
    def of(cls, scored: Scored) -> ScoredUser:
        return cls(user_id=scored.id, score=round(scored.score, 6), reasons=scored.reasons)


class RecommendationsOut(BaseModel):
    user_id: str
    model_version: str | None = Field(description="null when no model exists yet")
    strategy: Literal["personal", "cold_start", "popular"]
    items: list[ScoredItem]


class SimilarItemsOut(BaseModel):
    item_id: str
    model_version: str
    items: list[ScoredItem]


class AudienceOut(BaseModel):
    item_id: str
    model_version: str
    users: list[ScoredUser]
