"""POST /v1/push-lists, GET /v1/push-lists (saved lists, paged) and GET /v1/push-lists/{id}
(JSON or CSV): a marketer's target list. The rules (consent checked in the store, caps,
expiry) are in api/services/push_lists.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import AuditDep, ServingDep, SessionDep, authenticate, require_scope, require_serving
from api.errors import ProblemError
from api.schemas.common import problem_responses
from api.schemas.push_lists import PushListOut, PushListPage, PushListRequest
from api.services import push_lists as service

router = APIRouter(
    prefix="/v1/push-lists",
    tags=["push lists"],
    dependencies=[require_scope("marketing")],
    responses=problem_responses(401),
)


@router.post("", status_code=201, responses=problem_responses(404, 409, 422, 503))
def create_push_list(
    request: PushListRequest,
    http: Request,
    session: SessionDep,
    serving: ServingDep,
    audited: AuditDep,
) -> PushListOut:
    current = require_serving(serving, "a push list")
    created = service.create_push_list(session, current, request, now=datetime.now(UTC))
    http.app.state.metrics.answered("push_list", "audience", len(created.users))
    audited("push_list.create", created.id, item_id=created.item_id, size=len(created.users))
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
    audited: AuditDep,
    request: Request,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    fields: Annotated[
        str | None,
        Query(
            max_length=64,
            description="CSV columns beyond list_id,user_id,score: rank,reasons (admin scope)",
        ),
    ] = None,
) -> Response:
    extra = _extra_fields(request, fields)
    body, members = service.get_push_list(session, list_id)
    audited("push_list.export", list_id, format=format, size=len(members), fields=list(extra))
    if format == "csv":
        return Response(
            service.members_csv(list_id, members, extra),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="push-list-{list_id}.csv"'},
        )
    return Response(body.model_dump_json(), media_type="application/json")


def _extra_fields(request: Request, fields: str | None) -> tuple[str, ...]:
    if not fields:
        return ()
    extra = tuple(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
    unknown = [f for f in extra if f not in service.CSV_EXTRA_FIELDS]
    if unknown:
        raise ProblemError(
            422,
            "Invalid request",
            f"unknown fields {unknown}; allowed: {', '.join(service.CSV_EXTRA_FIELDS)}",
            [{"loc": ["query", "fields"], "msg": "unknown field"}],
        )
    authenticate(request, "admin")  # more than a push needs: the admin scope decides
    return extra
