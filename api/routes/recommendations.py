"""GET /v1/users/{user_id}/recommendations: what user U should see next (every page view)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.deps import ServingDep, require_scope
from api.schemas.common import ID_MAX, problem_responses
from api.schemas.serving import RecommendationsOut, ScoredItem
from api.services.matching import recommend as recommend_items
from api.store import freshness
from api.store.db import session_scope
from api.store.events import seen_item_ids

router = APIRouter(
    prefix="/v1/users",
    tags=["serving"],
    dependencies=[require_scope("serve")],
    responses=problem_responses(401),
)

MAX_N = 10_000
POPULAR_WINDOW = timedelta(days=30)


@router.get("/{user_id}/recommendations", responses=problem_responses(422))
async def recommend(
    user_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    request: Request,
    serving: ServingDep,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    exclude_seen: bool = True,
) -> RecommendationsOut:
    """personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error."""
    if serving is None:  # before the first model: most popular, from the store
        return await asyncio.to_thread(_popular, request, user_id, n, category, tag, exclude_seen)
    # In memory only (model + live state): no thread hop, no store read.
    answer = recommend_items(
        serving, user_id, n, now=time.time(), category=category, tag=tag, exclude_seen=exclude_seen
    )
    request.app.state.metrics.answered("recommend", answer.strategy, len(answer.items))
    return RecommendationsOut(
        user_id=user_id,
        model_version=serving.model.version,
        strategy=answer.strategy,
        items=[ScoredItem.of(s) for s in answer.items],
    )


def _popular(
    request: Request,
    user_id: str,
    n: int,
    category: str | None,
    tag: str | None,
    exclude_seen: bool,
) -> RecommendationsOut:
    now = datetime.now(UTC)
    with session_scope(request.app.state.session_factory) as session:
        seen = seen_item_ids(session, user_id) if exclude_seen else set()
        popular = freshness.popular_item_ids(
            session, now - POPULAR_WINDOW, n, now=now, category=category, tag=tag, exclude=seen
        )
    return RecommendationsOut(
        user_id=user_id,
        model_version=None,
        strategy="popular",
        items=[ScoredItem(item_id=i, score=float(c), reasons=["popular"]) for i, c in popular],
    )
