"""POST /v1/push-lists and GET /v1/push-lists/{id} (JSON or CSV): a marketer's target list.

Only users with push consent (as the store says now), never erased ones, and none already
pushed `frequency_cap.max` times within `frequency_cap.hours` by earlier lists. An expired
item gets 409: there is nothing left to push.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from api.deps import ApiKeyDep, SessionDep
from api.errors import ProblemError
from api.routes.audiences import existing_item, rank_audience
from api.schemas.common import problem_responses
from api.schemas.push_lists import PushListOut, PushListRequest
from api.schemas.serving import ScoredUser
from api.serving import HolderDep, require_model
from api.store import push_lists as store

router = APIRouter(
    prefix="/v1/push-lists",
    tags=["push lists"],
    dependencies=[ApiKeyDep],
    responses=problem_responses(401),
)


@router.post("", status_code=201, responses=problem_responses(404, 409, 422, 503))
def create_push_list(
    request: PushListRequest, session: SessionDep, holder: HolderDep
) -> PushListOut:
    model = require_model(holder, "a push list")
    item = existing_item(session, request.item_id)
    now = datetime.now(UTC)
    if item.expires_at is not None and item.expires_at <= now:
        # A push for content that is gone leads nowhere and spends a frequency-cap slot.
        # Not yet published is fine: lists are often prepared ahead of a launch.
        raise ProblemError(
            409,
            "Item expired",
            f"item {item.id!r} expired at {item.expires_at.isoformat()}; nothing to push",
            [{"loc": ["body", "item_id"], "msg": "item expired"}],
        )
    capped: set[str] = set()
    if request.frequency_cap is not None:
        since = now - timedelta(hours=request.frequency_cap.hours)
        capped = store.capped_user_ids(session, since, request.frequency_cap.max)
    found = rank_audience(
        model,
        session,
        item,
        request.size,
        segment=request.segment,
        tag=request.tag,
        exclude_seen=request.exclude_seen,
        consent_only=True,
        exclude_user_ids=capped,
    )
    users = [ScoredUser.of(s) for s in found]
    push_list = store.create_push_list(
        session,
        list_id=uuid.uuid4().hex,
        item_id=item.id,
        created_at=now,
        model_version=model.version,
        request=request.model_dump(mode="json"),
        members=[(u.user_id, u.score, u.reasons) for u in users],
    )
    return PushListOut(
        id=push_list.id,
        item_id=item.id,
        created_at=now,
        model_version=model.version,
        request=push_list.request,
        users=users,
    )


@router.get("/{list_id}", responses=problem_responses(404, 422))
def get_push_list(
    list_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    push_list = store.get_push_list(session, list_id)
    if push_list is None:
        raise ProblemError(404, "Push list not found", f"no push list {list_id!r}")
    members = store.push_list_members(session, list_id)
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["rank", "user_id", "score", "reasons"])
        for m in members:
            writer.writerow([m.rank, m.user_id, f"{m.score:.6f}", "|".join(m.reasons or [])])
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="push-list-{list_id}.csv"'},
        )
    body = PushListOut(
        id=push_list.id,
        item_id=push_list.item_id,
        created_at=push_list.created_at,
        model_version=push_list.model_version,
        request=dict(push_list.request),
        users=[
            ScoredUser(user_id=m.user_id, score=m.score, reasons=list(m.reasons or []))
            for m in members
        ],
    )
    return Response(body.model_dump_json(), media_type="application/json")
