"""GET /v1/items/{item_id}/similar and /audience: item-to-item, and who should get an item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from api.deps import ApiKeyDep, SessionDep
from api.errors import ProblemError
from api.schemas.common import ID_MAX, problem_responses
from api.schemas.serving import AudienceOut, ScoredItem, ScoredUser, SimilarItemsOut
from api.serving import (
    HolderDep,
    item_filter,
    require_model,
    snapshot_time,
    user_filter,
    user_mask,
)
from api.store import segments as segment_store
from api.store.events import users_who_saw_item
from api.store.items import get_item
from api.store.tables import Item
from matching.model import Scored, TrainedModel

router = APIRouter(
    prefix="/v1/items", tags=["serving"], dependencies=[ApiKeyDep], responses=problem_responses(401)
)

MAX_N = 10_000
ItemId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
Count = Annotated[int, Query(ge=1, le=MAX_N)]
Name = Annotated[str | None, Query(min_length=1, max_length=ID_MAX)]


def existing_item(session: Session, item_id: str) -> Item:
    item = get_item(session, item_id)
    if item is None:
        raise ProblemError(404, "Item not found", f"no item {item_id!r}")
    return item


def segment_members(session: Session, name: str) -> set[str]:
    members = segment_store.member_ids(session, name)
    if members is None:
        raise ProblemError(
            404,
            "Segment not found",
            f"no segment {name!r}",
            [{"loc": ["query", "segment"], "msg": "unknown segment"}],
        )
    return members


def users_with_tag(model: TrainedModel, tag: str) -> set[str]:
    column = model.tagspace.tags.index(tag)
    if column is None:
        return set()
    ts = model.tagspace
    has = np.zeros(len(model.users), dtype=bool)
    for matrix in (ts.user_declared, ts.user_behavioural, ts.user_predicted, ts.user_system):
        has |= np.asarray(matrix[:, column].toarray()).ravel() > 0
    return set(model.users.lookup(np.flatnonzero(has)))


def rank_audience(
    model: TrainedModel,
    session: Session,
    item: Item,
    n: int,
    *,
    segment: str | None = None,
    tag: str | None = None,
    exclude_seen: bool = True,
    consent_only: bool = False,
    exclude_user_ids: set[str] | None = None,
) -> list[Scored]:
    """The audience search shared by /audience and push lists: filters go inside the index
    search, so `n` users come back whenever that many qualify."""
    members: set[str] | None = None
    if segment is not None:
        members = segment_members(session, segment)
    if tag is not None:
        tagged = users_with_tag(model, tag)
        members = tagged if members is None else members & tagged
    mask = user_mask(model, session, members=members, consent_only=consent_only)
    excluded = set(exclude_user_ids or ())
    known = model.items.index(item.id) is not None
    if exclude_seen:
        # The model excludes who its snapshot saw engage; the store adds what arrived since
        # (the item's whole history when the model does not have the item).
        since = snapshot_time(model) if known else None
        excluded |= users_who_saw_item(session, item.id, outside_snapshot=since)
    return model.audience(
        item.id if known else None,
        n,
        title=item.title or "",
        text=item.text or "",
        tags=dict(item.tags or {}),
        allowed_user_rows=user_filter(mask),
        exclude_user_ids=excluded,
        exclude_seen=exclude_seen,
    )


@router.get("/{item_id}/similar", responses=problem_responses(404, 422, 503))
def similar_items(
    item_id: ItemId, session: SessionDep, holder: HolderDep, n: Count = 10
) -> SimilarItemsOut:
    """Items close to this one in the joint space; an item without events is placed by
    its tags and text."""
    model = require_model(holder, "similar items")
    item = existing_item(session, item_id)
    found = model.similar_items(
        item_id if model.items.index(item_id) is not None else None,
        n,
        title=item.title or "",
        text=item.text or "",
        tags=dict(item.tags or {}),
        allowed_item_rows=item_filter(model, session, datetime.now(UTC)),
        exclude_item_ids=[item_id],
    )
    return SimilarItemsOut(
        item_id=item_id, model_version=model.version, items=[ScoredItem.of(s) for s in found]
    )


@router.get("/{item_id}/audience", responses=problem_responses(404, 422, 503))
def audience(
    item_id: ItemId,
    session: SessionDep,
    holder: HolderDep,
    n: Count = 1000,
    segment: Name = None,
    tag: Name = None,
    exclude_seen: bool = True,
) -> AudienceOut:
    """The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag."""
    model = require_model(holder, "an audience")
    item = existing_item(session, item_id)
    found = rank_audience(
        model, session, item, n, segment=segment, tag=tag, exclude_seen=exclude_seen
    )
    return AudienceOut(
        item_id=item_id, model_version=model.version, users=[ScoredUser.of(s) for s in found]
    )
