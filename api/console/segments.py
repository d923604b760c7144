"""Segment builder and persona report pages, and the live rule check behind the editor.

Saving goes through the same segment service as PUT /v1/segments; the check parses with the
same parser and counts members on the serving model as that save would store them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.console.auth import ConsoleSessionDep, check_csrf
from api.console.charts import paired_bars
from api.console.render import NO_STORE, page, redirect
from api.deps import ServingDep, SessionDep, require_serving
from api.errors import ProblemError
from api.services import segments as service
from api.store import segments as segment_store
from api.store.console import item_titles
from matching.segments import RuleError

router = APIRouter(prefix="/console/segments", include_in_schema=False)

SegmentName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]
MIN_SUPPORT_DEFAULT = 5

# The rule language at a glance: (construct, the words explaining it in api/console/i18n.py).
SYNTAX: list[tuple[str, str]] = [
    ("age in ['25-34', '35-44']", "syntax.attribute"),
    ("attr('plan') = 'gold'", "syntax.attr"),
    ("tag('kw:瑜伽') >= 0.2", "syntax.tag"),
    ("has('topic:travel')", "syntax.has"),
    ("predicted('gender:f') >= 0.7", "syntax.predicted"),
    ("life = 'silent'", "syntax.life"),
    ("rfm.r >= 4", "syntax.rfm"),
    ("events('purchase', days=30) >= 2", "syntax.events"),
    ("a and (b or not c)", "syntax.logic"),
]
EXAMPLES: list[str] = [
    "life = 'silent' and has('topic:fitness')",
    "tag('kw:旅行') >= 0.2 or tag('kw:travel') >= 0.2",
    "events('view', days=30) >= 3 and not life = 'churned'",
    "gender = 'f' and age in ['25-34', '35-44']",
]


@router.get("", response_class=HTMLResponse)
def builder(
    request: Request, visitor: ConsoleSessionDep, session: SessionDep, rule: str = ""
) -> Response:
    context = {
        "segments": segment_store.list_segments(session),
        "syntax": SYNTAX,
        "examples": EXAMPLES,
        "rule": rule,
        "name": "",
        "description": "",
    }
    return page(request, visitor, "segments.html", context)


@router.get("/check")
def check_rule(
    visitor: ConsoleSessionDep,
    serving: ServingDep,
    rule: Annotated[str, Query(max_length=10_000)],
) -> Response:
    """{"valid", "size" (members on the serving model; null without one), "total", "error"}"""
    try:
        size = service.rule_size(serving, rule)
    except RuleError as error:
        body: dict[str, Any] = {
            "valid": False,
            "error": {
                "message": str(error),
                "line": error.line,
                "column": error.column,
                "position": error.position,
            },
        }
        return JSONResponse(body, headers=NO_STORE)
    total = len(serving.model.users) if serving is not None else None
    return JSONResponse({"valid": True, "size": size, "total": total}, headers=NO_STORE)


@router.post("", response_class=HTMLResponse)
def save(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    serving: ServingDep,
    csrf_token: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")],
    rule: Annotated[str, Form(min_length=1, max_length=10_000)],
    description: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    check_csrf(visitor, csrf_token)
    try:
        service.put_segment(session, serving, name, rule, description)
    except ProblemError as problem:  # an invalid rule or a built-in name: back to the form
        session.rollback()
        context = {
            "segments": segment_store.list_segments(session),
            "syntax": SYNTAX,
            "examples": EXAMPLES,
            "rule": rule,
            "name": name,
            "description": description,
            "problem": problem.detail or problem.title,
        }
        return page(request, visitor, "segments.html", context, status_code=problem.status)
    return redirect(request, visitor, f"/console/segments/{name}")


def _attribute_charts(report: dict[str, Any]) -> dict[str, Any]:
    charts = {}
    for namespace, values in report["attributes"].items():
        rows = [
            (v["value"] if v["value"] is not None else "–", v["segment_share"], v["overall_share"])
            for v in values
        ]
        charts[namespace] = paired_bars(rows)
    return charts


@router.get("/{name}", response_class=HTMLResponse)
def report(
    request: Request,
    visitor: ConsoleSessionDep,
    session: SessionDep,
    serving: ServingDep,
    name: SegmentName,
    min_support: Annotated[int, Query(ge=1, le=1_000_000)] = MIN_SUPPORT_DEFAULT,
) -> Response:
    """The persona report drawn: attribute bars against all users, tags by lift with their
    support above a threshold, top items with titles, lifecycle mix, overlaps."""
    try:
        current = require_serving(serving, "a persona report")
        segment = service.existing_segment(session, name)
        body = service.report(session, current, name, min_count=min_support)
    except ProblemError as problem:
        context: dict[str, Any] = {"message": problem.detail or problem.title}
        return page(request, visitor, "error.html", context, status_code=problem.status)
    lifecycle = paired_bars(
        [(s["stage"], s["segment_share"], s["overall_share"]) for s in body["lifecycle"]]
    )
    context = {
        "segment": segment,
        "report": body,
        "charts": _attribute_charts(body),
        "lifecycle_chart": lifecycle,
        "titles": item_titles(session, [i["item_id"] for i in body["top_items"]]),
        "min_support": min_support,
    }
    return page(request, visitor, "report.html", context)
