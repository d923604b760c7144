"""Segments: PUT/GET/DELETE /v1/segments/{name}, GET /v1/segments, members with stable
paging, the persona report, and an explicit refresh. Logic: api/services/segments.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AuditDep, ServingDep, SessionDep, require_scope, require_serving
from api.schemas.common import problem_responses
from api.schemas.segments import SegmentIn, SegmentList, SegmentOut, SegmentReport, SegmentUsers
from api.services import segments as service
from api.store import segments as store

router = APIRouter(
    prefix="/v1/segments",
    tags=["segments"],
    dependencies=[require_scope("marketing")],
    responses=problem_responses(401),
)

SegmentName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]


@router.put("/{name}", responses=problem_responses(409, 422))
def put_segment(
    name: SegmentName,
    body: SegmentIn,
    session: SessionDep,
    serving: ServingDep,
    audited: AuditDep,
) -> SegmentOut:
    """Create or replace a segment. An invalid rule is a 422 naming the position and what
    was expected there. Members are computed at once when a model exists."""
    segment = service.put_segment(session, serving, name, body.rule, body.description)
    audited("segment.put", name, rule=body.rule)
    return SegmentOut.from_row(segment)


@router.get("")
def list_segments(session: SessionDep) -> SegmentList:
    return SegmentList(segments=[SegmentOut.from_row(s) for s in store.list_segments(session)])


@router.get("/{name}", responses=problem_responses(404))
def get_segment(name: SegmentName, session: SessionDep) -> SegmentOut:
    return SegmentOut.from_row(service.existing_segment(session, name))


@router.delete("/{name}", status_code=204, responses=problem_responses(404, 409))
def delete_segment(name: SegmentName, session: SessionDep, audited: AuditDep) -> Response:
    service.delete_segment(session, name)
    audited("segment.delete", name)
    return Response(status_code=204)


@router.post("/{name}/refresh", responses=problem_responses(404, 503))
def refresh_segment(name: SegmentName, session: SessionDep, serving: ServingDep) -> SegmentOut:
    """Re-evaluate the rule on the serving model now (training does it for every segment)."""
    segment = service.refresh_segment(session, require_serving(serving, "a segment refresh"), name)
    return SegmentOut.from_row(segment)


@router.get("/{name}/users", responses=problem_responses(404, 422))
def segment_users(
    name: SegmentName,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> SegmentUsers:
    """Members in user-id order; pages stay stable while other members come and go."""
    users, next_cursor = service.member_page(session, name, cursor, limit)
    return SegmentUsers(segment=name, users=users, next_cursor=next_cursor)


@router.get("/{name}/report", responses=problem_responses(404, 503))
def segment_report(name: SegmentName, session: SessionDep, serving: ServingDep) -> SegmentReport:
    """Persona: size and share, attribute distributions against all users, top tags by
    lift, top items, lifecycle mix, and quality figures (overlaps, warnings). Evaluated on
    the serving model in memory; reading a report writes nothing."""
    current = require_serving(serving, "a persona report")
    segment = service.existing_segment(session, name)
    return SegmentReport(
        segment=name,
        rule=segment.rule,
        model_version=current.model.version,
        report=service.report(session, current, name),
    )
