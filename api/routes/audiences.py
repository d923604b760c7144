"""GET /v1/items/{item_id}/similar and /audience: item-to-item, and who should get an item."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import require_serving, serving_for
from api.live.writes import item_key
from api.schemas.common import ID_MAX, problem_responses
from api.schemas.serving import (
    AudienceOut,
    SimilarItemsOut,
    audience_json,
    json_response,
    similar_items_json,
)
from api.services import matching
from api.services.segments import segment_rule
from api.store.db import session_scope

# No router dependencies: the routes authorise through serving_for() (api/deps.py).
router = APIRouter(prefix="/v1/items", tags=["serving"], responses=problem_responses(401))

MAX_N = 10_000
ItemId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
Count = Annotated[int, Query(ge=1, le=MAX_N)]
Name = Annotated[str | None, Query(min_length=1, max_length=ID_MAX)]


@router.get(
    "/{item_id}/similar",
    response_model=SimilarItemsOut,
    responses=problem_responses(404, 422, 503),
)
async def similar_items(item_id: ItemId, request: Request, n: Count = 10) -> Response:
    """Items close to this one in the joint space; an item without events is placed by
    its tags and text."""
    serving, headers = await serving_for(request, "serve", (item_key(item_id),))
    current = require_serving(serving, "similar items")
    found = matching.similar_items(current, item_id, n, now=time.time())
    return json_response(similar_items_json(item_id, current.model.version, found), headers)


@router.get(
    "/{item_id}/audience",
    response_model=AudienceOut,
    responses=problem_responses(404, 422, 503),
)
async def audience(
    item_id: ItemId,
    request: Request,
    n: Count = 1000,
    segment: Name = None,
    tag: Name = None,
    exclude_seen: bool = True,
) -> Response:
    """The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag."""
    serving, headers = await serving_for(request, "marketing", (item_key(item_id),))
    current = require_serving(serving, "an audience")
    rule = None
    if segment is not None:  # the segment's current rule: one row by key
        rule = await asyncio.to_thread(_segment_rule, request, segment)
    found = matching.audience(current, item_id, n, segment=rule, tag=tag, exclude_seen=exclude_seen)
    request.app.state.metrics.answered("audience", "audience", len(found))
    return json_response(audience_json(item_id, current.model.version, found), headers)


def _segment_rule(request: Request, name: str) -> matching.SegmentRule:
    with session_scope(request.app.state.session_factory) as session:
        return segment_rule(session, name, loc=("query", "segment"))
