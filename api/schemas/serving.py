"""Responses of the serving endpoints: recommendations, similar items, audiences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from pydantic_core import to_json
from starlette.responses import Response

from matching.model import Scored

SCORE_DIGITS = 6  # what an answer carries of a score
SHORT = 32  # rounded_scores: below this many, round() one by one


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
def rounded_scores(scores: Sequence[float]) -> list[float]:
    """[round(s, SCORE_DIGITS) for s in scores], the same floats, at a fraction of the cost
    for a long list of float32 values (what the model answers with): then s * 10**6 is exact
    (24 significant bits times 15625 times a power of two), so numpy's round (multiply, round
    half to even, divide) rounds the exact value as round() does, and its division is as
    correctly rounded as round()'s decimal conversion. Other values take round() itself, and
    so do short lists (numpy's fixed cost is more than ten round() calls).
    tests/api/test_serving_json.py compares both on float32 values of every kind."""
    if len(scores) < SHORT:
        return [round(s, SCORE_DIGITS) for s in scores]
    values = np.array(scores, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        exact = bool((values.astype(np.float32) == values).all())
    if exact:
        rounded: list[float] = np.round(values, SCORE_DIGITS).tolist()
        return rounded
    return [round(s, SCORE_DIGITS) for s in scores]


def _scored(found: list[Scored], key: str) -> list[dict[str, object]]:
    if not found:
        return []
    ids, scores, reasons = zip(*found, strict=True)
    return [
        {key: i, "score": score, "reasons": why}
        for i, score, why in zip(ids, rounded_scores(scores), reasons, strict=True)
    ]


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
