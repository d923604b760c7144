"""Audience and push-list pages: find an item, preview who should get it with reasons, see
how many could receive a push now, create a push list, list saved ones, download CSV.

Every figure comes from the same services as GET /v1/items/{id}/audience and
/v1/push-lists; the CSV is the API's own, served here under the console session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import ConsoleSessionDep, check_csrf
from api.console.render import NO_STORE, page, redirect
from api.deps import AuditDep, ServingDep, SessionDep, require_serving
from api.errors import ProblemError
from api.schemas.common import ID_MAX
from api.schemas.push_lists import MAX_SIZE, FrequencyCap, PushListRequest
from api.schemas.serving import ScoredUser
from api.services import matching
from api.services import push_lists as push_service
from api.services.segments import segment_rule
from api.store import segments as segment_store
from api.store.console import find_items
from api.store.items import get_item

router = APIRouter(prefix="/console", include_in_schema=False)

ItemId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
OptionalName = Annotated[str | None, Query(max_length=ID_MAX)]
PREVIEW_MAX = 1_000
LISTS_PER_PAGE = 25
MEMBERS_SHOWN = 50


def _cap(cap_max: int | None, cap_hours: float | None) -> FrequencyCap | None:
    """Both fields or neither: half a cap is no cap."""
    if cap_max is None or cap_hours is None:
        return None
    return FrequencyCap(max=cap_max, hours=cap_hours)


@router.get("/audience", response_class=HTMLResponse)
def find(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    segment: OptionalName = None,
) -> Response:
    context = {"q": q, "segment": segment or "", "items": find_items(session, q) if q else []}
    return page(request, visitor, "audience.html", context)


@router.get("/audience/{item_id}", response_class=HTMLResponse)
def preview(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    serving: ServingDep,
    item_id: ItemId,
    segment: OptionalName = None,
    n: Annotated[int, Query(ge=1, le=PREVIEW_MAX)] = 20,
    cap_max: Annotated[int | None, Query(ge=1, le=1_000)] = None,
    cap_hours: Annotated[float | None, Query(gt=0, le=24 * 365)] = None,
) -> Response:
    item = get_item(session, item_id)
    if item is None:
        context: dict[str, Any] = {"message": f"no item {item_id!r}"}
        return page(request, visitor, "error.html", context, status_code=404)
    segment = segment or None
    context = {
        "item": item,
        "segments": segment_store.list_segments(session),
        "segment": segment,
        "n": n,
        "cap_max": cap_max,
        "cap_hours": cap_hours,
        "users": None,
        "reach": None,
    }
    try:
        current = require_serving(serving, "an audience")
        rule = None if segment is None else segment_rule(session, segment, loc=("query", "segment"))
        found = matching.audience(current, item_id, n, segment=rule)
        context["users"] = [ScoredUser.of(s) for s in found]
        context["reach"] = push_service.deliverable_reach(
            session,
            current,
            item_id,
            segment=segment,
            frequency_cap=_cap(cap_max, cap_hours),
            now=datetime.now(UTC),
        )
    except ProblemError as problem:  # no model yet, an unknown segment
        context["problem"] = problem.detail or problem.title
        return page(request, visitor, "audience_item.html", context, status_code=problem.status)
    return page(request, visitor, "audience_item.html", context)


@router.post("/push-lists", response_class=HTMLResponse)
def create(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    serving: ServingDep,
    audited: AuditDep,
    csrf_token: Annotated[str, Form(max_length=128)],
    item_id: Annotated[str, Form(min_length=1, max_length=ID_MAX)],
    size: Annotated[int, Form(ge=1, le=MAX_SIZE)],
    segment: Annotated[str, Form(max_length=ID_MAX)] = "",
    cap_max: Annotated[int | None, Form(ge=1, le=1_000)] = None,
    cap_hours: Annotated[float | None, Form(gt=0, le=24 * 365)] = None,
) -> Response:
    check_csrf(visitor, csrf_token)
    push_request = PushListRequest(
        item_id=item_id,
        size=size,
        segment=segment or None,
        frequency_cap=_cap(cap_max, cap_hours),
    )
    try:
        current = require_serving(serving, "a push list")
        now = datetime.now(UTC)
        created = push_service.create_push_list(session, current, push_request, now=now)
        list_id = created.id
        audited("push_list.create", list_id, item_id=item_id, size=len(created.users))
    except ProblemError as problem:
        session.rollback()
        context: dict[str, Any] = {"message": problem.detail or problem.title}
        return page(request, visitor, "error.html", context, status_code=problem.status)
    return redirect(request, visitor, f"/console/push-lists/{list_id}")


@router.get("/push-lists", response_class=HTMLResponse)
def saved(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    try:
        found = push_service.list_push_lists(session, cursor, LISTS_PER_PAGE)
    except ProblemError:  # a stale or edited link: start from the newest
        found = push_service.list_push_lists(session, None, LISTS_PER_PAGE)
    context = {"lists": found.push_lists, "next_cursor": found.next_cursor}
    return page(request, visitor, "push_lists.html", context)


@router.get("/push-lists/{list_id}.csv")
def download(
    visitor: ConsoleSessionDep,
    session: SessionDep,
    audited: AuditDep,
    list_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    _, members = push_service.get_push_list(session, list_id)
    audited("push_list.export", list_id, format="csv", size=len(members), fields=[])
    return Response(
        push_service.members_csv(list_id, members),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="push-list-{list_id}.csv"',
            **NO_STORE,
        },
    )


@router.get("/push-lists/{list_id}", response_class=HTMLResponse)
def show(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    list_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    try:
        created, members = push_service.get_push_list(session, list_id)
    except ProblemError as problem:
        context: dict[str, Any] = {"message": problem.detail or problem.title}
        return page(request, visitor, "error.html", context, status_code=problem.status)
    newest = push_service.list_push_lists(session, None, LISTS_PER_PAGE)
    context = {
        "created": created,
        "members_total": len(members),
        "members": members[:MEMBERS_SHOWN],
        "lists": newest.push_lists,
        "next_cursor": newest.next_cursor,
    }
    return page(request, visitor, "push_lists.html", context)
