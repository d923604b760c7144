"""POST /v1/push-lists, GET /v1/push-lists (saved lists, paged) and GET /v1/push-lists/{id}
(JSON or CSV): a marketer's target list. The rules (consent checked in the store, caps,
expiry) are in api/services/push_lists.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import ApiKeyDep, ServingDep, SessionDep, require_serving
from api.schemas.common import problem_responses
from api.schemas.push_lists import PushListOut, PushListPage, PushListRequest
from api.services import push_lists as service

router = APIRouter(
    prefix="/v1/push-lists",
    tags=["push lists"],
    dependencies=[ApiKeyDep],
    responses=problem_responses(401),
)


@router.post("", status_code=201, responses=problem_responses(404, 409, 422, 503))
def create_push_list(
    request: PushListRequest, http: Request, session: SessionDep, serving: ServingDep
) -> PushListOut:
    current = require_serving(serving, "a push list")
    created = service.create_push_list(session, current, request, now=datetime.now(UTC))
    http.app.state.metrics.answered("push_list", "audience", len(created.users))
    return created


@router.get("", responses=problem_responses(422))
def list_push_lists(
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
) -> PushListPage:
    """Saved lists, newest first, without their members; `next_cursor` pages to older ones
    and stays stable while new lists are created."""
    return service.list_push_lists(session, cursor, limit)


@router.get("/{list_id}", responses=problem_responses(404, 422))
def get_push_list(
    list_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    body, members = service.get_push_list(session, list_id)
    if format == "csv":
        return Response(
            service.members_csv(members),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="push-list-{list_id}.csv"'},
        )
    return Response(body.model_dump_json(), media_type="application/json")
