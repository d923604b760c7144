"""GET /v1/users/{user_id}/recommendations: what user U should see next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ApiKeyDep, SessionDep
from api.schemas.common import ID_MAX, problem_responses
from api.schemas.serving import RecommendationsOut, ScoredItem
from api.serving import HolderDep, item_filter, known_to_model, snapshot_time
from api.store import freshness
from api.store.events import seen_item_ids
from api.store.users import get_user

router = APIRouter(
    prefix="/v1/users", tags=["serving"], dependencies=[ApiKeyDep], responses=problem_responses(401)
)

MAX_N = 10_000
POPULAR_WINDOW = timedelta(days=30)


@router.get("/{user_id}/recommendations", responses=problem_responses(422))
def recommend(
    user_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    session: SessionDep,
    holder: HolderDep,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=ID_MAX)] = None,
    exclude_seen: bool = True,
) -> RecommendationsOut:
    """personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error."""
    model = holder.current  # one reference for the whole answer: never two versions
    now = datetime.now(UTC)
    user = get_user(session, user_id)  # the store decides who exists (erasure is immediate)
    known = user is not None and model is not None and known_to_model(model, user)
    seen: set[str] = set()
    if user is not None and exclude_seen:
        # The model excludes what its snapshot held; the store adds what arrived since (late
        # events dated before the snapshot included), or everything for a user it lacks.
        since = snapshot_time(model) if known and model is not None else None
        seen = seen_item_ids(session, user_id, outside_snapshot=since)
    if model is None:
        popular = freshness.popular_item_ids(
            session,
            now - POPULAR_WINDOW,
            n,
            now=now,
            category=category,
            tag=tag,
            exclude=seen,
        )
        return RecommendationsOut(
            user_id=user_id,
            model_version=None,
            strategy="popular",
            items=[ScoredItem(item_id=i, score=float(c), reasons=["popular"]) for i, c in popular],
        )
    answer = model.recommend(
        user_id if known else None,
        n,
        attributes=dict(user.attributes) if user is not None else None,
        declared_tags=dict(user.tags) if user is not None else None,
        exclude_item_ids=seen,
        allowed_item_rows=item_filter(model, session, now, category=category, tag=tag),
        exclude_seen=exclude_seen,
    )
    return RecommendationsOut(
        user_id=user_id,
        model_version=model.version,
        strategy=answer.strategy,
        items=[ScoredItem.of(s) for s in answer.items],
    )
