"""User lookup: one user's persona, tags grouped by source (declared, behavioural, predicted,
system), and what they would be recommended now, with reasons: the answers of
GET /v1/users/{id}/profile and /recommendations, drawn."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import ConsoleSessionDep
from api.console.render import page
from api.deps import ServingDep, SessionDep
from api.errors import ProblemError
from api.schemas.common import ID_MAX
from api.schemas.serving import ScoredItem
from api.services import matching, profiles
from api.store.console import item_titles

router = APIRouter(prefix="/console", include_in_schema=False)

RECOMMENDATIONS_SHOWN = 10


@router.get("/users", response_class=HTMLResponse)
def lookup(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    serving: ServingDep,
    id: Annotated[str, Query(max_length=ID_MAX)] = "",
) -> Response:
    context: dict[str, Any] = {"user_id": id, "profile": None, "recommendations": None}
    if not id:
        return page(request, visitor, "users.html", context)
    try:
        context["profile"] = profiles.profile(session, serving, id)
    except ProblemError as problem:
        context["problem"] = problem.detail or problem.title
        return page(request, visitor, "users.html", context, status_code=problem.status)
    if serving is not None:  # before the first model there is nothing personal to show
        found = matching.recommend(serving, id, RECOMMENDATIONS_SHOWN, now=time.time())
        items = [ScoredItem.of(s) for s in found.items]
        context["recommendations"] = {"strategy": found.strategy, "items": items}
        context["titles"] = item_titles(session, [i.item_id for i in items])
    return page(request, visitor, "users.html", context)
