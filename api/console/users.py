"""User lookup: one user's persona, tags grouped by source (declared, behavioural, predicted,
system), and what they would be recommended now, with reasons: the answers of
GET /v1/users/{id}/profile and /recommendations, drawn."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console import pending
from api.console.auth import ConsoleSessionDep
from api.console.render import page
from api.deps import SessionDep
from api.errors import ProblemError
from api.schemas.common import ID_MAX
from api.serving import HolderDep
from api.store.console import item_titles

router = APIRouter(prefix="/console", include_in_schema=False)

RECOMMENDATIONS_SHOWN = 10


@router.get("/users", response_class=HTMLResponse)
def lookup(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    holder: HolderDep,
    id: Annotated[str, Query(max_length=ID_MAX)] = "",
) -> Response:
    context: dict[str, Any] = {"user_id": id, "profile": None, "recommendations": None}
    if not id:
        return page(request, visitor, "users.html", context)
    try:
        context["profile"] = pending.profile(session, holder, id)
    except ProblemError as problem:
        context["problem"] = problem.detail or problem.title
        return page(request, visitor, "users.html", context, status_code=problem.status)
    found = pending.recommendations(session, holder, id, RECOMMENDATIONS_SHOWN)
    context["recommendations"] = found
    context["titles"] = item_titles(session, [r.item_id for r in found.items])
    return page(request, visitor, "users.html", context)
