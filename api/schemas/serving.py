"""Responses of the serving endpoints: recommendations, similar items, audiences."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_core import to_json
from starlette.responses import Response

from matching.model import Scored

SCORE_DIGITS = 6  # what an answer carries of a score


class ScoredItem(BaseModel):
    item_id: str
    score: float
    reasons: list[str] = Field(description="shared tags, strongest first; or a CF reason")

    @classmethod
    def of(cls, scored: Scored) -> ScoredItem:
        return cls(
            item_id=scored.id, score=round(scored.score, SCORE_DIGITS), reasons=scored.reasons
        )


class ScoredUser(BaseModel):
    user_id: str
    score: float
    reasons: list[str]

    @classmethod
    def of(cls, scored: Scored) -> ScoredUser:
        return cls(
            user_id=scored.id, score=round(scored.score, SCORE_DIGITS), reasons=scored.reasons
        )


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


# The per-page-view routes answer with these bytes rather than the models above: validating
# and serialising a response model cost more than the model's own work. The models stay the
# contract (OpenAPI, response_model); tests check that these bytes validate against them.
def _scored(found: list[Scored], key: str) -> list[dict[str, object]]:
    return [{key: s.id, "score": round(s.score, SCORE_DIGITS), "reasons": s.reasons} for s in found]


def recommendations_json(
    user_id: str, model_version: str | None, strategy: str, found: list[Scored]
) -> bytes:
    return to_json(
        {
            "user_id": user_id,
            "model_version": model_version,
            "strategy": strategy,
            "items": _scored(found, "item_id"),
        }
    )


def similar_items_json(item_id: str, model_version: str, found: list[Scored]) -> bytes:
    return to_json(
        {"item_id": item_id, "model_version": model_version, "items": _scored(found, "item_id")}
    )


def audience_json(item_id: str, model_version: str, found: list[Scored]) -> bytes:
    return to_json(
        {"item_id": item_id, "model_version": model_version, "users": _scored(found, "user_id")}
    )


def json_response(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, media_type="application/json", headers=headers)
