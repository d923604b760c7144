"""GET /v1/users/{user_id}/recommendations: what user U should see next (every page view)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import serving_for
from api.live.writes import user_key
from api.schemas.common import ID_MAX, problem_responses
from api.schemas.serving import RecommendationsOut, json_response, recommendations_json
from api.services.matching import recommend as recommend_items
from api.store import freshness
from api.store.db import session_scope
from api.store.events import seen_item_ids
from matching.model import Recommendations, Scored

# No router dependencies: the route authorises through serving_for() (api/deps.py).
router = APIRouter(prefix="/v1/users", tags=["serving"], responses=problem_responses(401))

MAX_N = 10_000
POPULAR_WINDOW = timedelta(days=30)


@router.get(
    "/{user_id}/recommendations",
    response_model=RecommendationsOut,
    responses=problem_responses(422),
)
async def recommend(
    user_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    request: Request,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    exclude_seen: bool = True,
) -> Response:
    """personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error."""
    serving, headers = await serving_for(request, "serve", (user_key(user_id),))
    if serving is None:  # before the first model: most popular, from the store
        answer = await asyncio.to_thread(_popular, request, user_id, n, category, tag, exclude_seen)
        return json_response(recommendations_json(user_id, None, "popular", answer.items), headers)
    # In memory only (model + live state): no thread hop, no store read.
    answer = recommend_items(
        serving, user_id, n, now=time.time(), category=category, tag=tag, exclude_seen=exclude_seen
    )
    request.app.state.metrics.answered("recommend", answer.strategy, len(answer.items))
    body = recommendations_json(user_id, serving.model.version, answer.strategy, answer.items)
    return json_response(body, headers)


def _popular(
    request: Request,
    user_id: str,
    n: int,
    category: str | None,
    tag: str | None,
    exclude_seen: bool,
) -> Recommendations:
    now = datetime.now(UTC)
    with session_scope(request.app.state.session_factory) as session:
        seen = seen_item_ids(session, user_id) if exclude_seen else set()
        popular = freshness.popular_item_ids(
            session, now - POPULAR_WINDOW, n, now=now, category=category, tag=tag, exclude=seen
        )
    return Recommendations("popular", [Scored(i, float(c), ["popular"]) for i, c in popular])
