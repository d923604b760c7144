"""Segments: PUT/GET/DELETE /v1/segments/{name}, GET /v1/segments, members with stable
paging, and the persona report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import ApiKeyDep, SessionDep
from api.errors import ProblemError
from api.jobs import segments as jobs
from api.schemas.common import problem_responses
from api.schemas.segments import SegmentIn, SegmentList, SegmentOut, SegmentReport, SegmentUsers
from api.serving import HolderDep, require_model
from api.store import segments as store
from api.store.tables import Segment
from matching.segments import RuleError, parse_rule

router = APIRouter(
    prefix="/v1/segments",
    tags=["segments"],
    dependencies=[ApiKeyDep],
    responses=problem_responses(401),
)

SegmentName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]


def existing_segment(session: SessionDep, name: str) -> Segment:
    segment = store.get_segment(session, name)
    if segment is None:
        raise ProblemError(404, "Segment not found", f"no segment {name!r}")
    return segment


@router.put("/{name}", responses=problem_responses(409, 422))
def put_segment(
    name: SegmentName, body: SegmentIn, session: SessionDep, holder: HolderDep
) -> SegmentOut:
    """Create or replace a segment. An invalid rule is a 422 naming the position and what
    was expected there. Members are computed at once when a model exists."""
    try:
        parse_rule(body.rule)
    except RuleError as error:
        raise ProblemError(
            422,
            "Invalid segment rule",
            str(error),
            [{"loc": ["body", "rule"], **error.to_dict()}],
        ) from None
    current = store.get_segment(session, name)
    if current is not None and current.builtin:
        raise ProblemError(409, "Built-in segment", f"{name!r} is built in and cannot change")
    segment = store.put_segment(session, name, body.rule, body.description)
    model = holder.current
    if model is not None:
        jobs.refresh_segment(session, model, name, body.rule)
    return SegmentOut.from_row(segment)


@router.get("")
def list_segments(session: SessionDep) -> SegmentList:
    jobs.ensure_builtin_segments(session)
    return SegmentList(segments=[SegmentOut.from_row(s) for s in store.list_segments(session)])


@router.get("/{name}", responses=problem_responses(404))
def get_segment(name: SegmentName, session: SessionDep) -> SegmentOut:
    jobs.ensure_builtin_segments(session)
    return SegmentOut.from_row(existing_segment(session, name))


@router.delete("/{name}", status_code=204, responses=problem_responses(404, 409))
def delete_segment(name: SegmentName, session: SessionDep) -> Response:
    segment = existing_segment(session, name)
    if segment.builtin:
        raise ProblemError(409, "Built-in segment", f"{name!r} is built in and cannot be deleted")
    store.delete_segment(session, name)
    return Response(status_code=204)


@router.post("/{name}/refresh", responses=problem_responses(404, 503))
def refresh_segment(name: SegmentName, session: SessionDep, holder: HolderDep) -> SegmentOut:
    """Re-evaluate the rule on the serving model now (training does it for every segment)."""
    jobs.ensure_builtin_segments(session)
    segment = existing_segment(session, name)
    jobs.refresh_segment(session, require_model(holder, "a segment refresh"), name, segment.rule)
    return SegmentOut.from_row(segment)


@router.get("/{name}/users", responses=problem_responses(404, 422))
def segment_users(
    name: SegmentName,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> SegmentUsers:
    """Members in user-id order; pages stay stable while other members come and go."""
    jobs.ensure_builtin_segments(session)
    existing_segment(session, name)
    users, next_cursor = store.page_members(session, name, cursor, limit)
    return SegmentUsers(segment=name, users=users, next_cursor=next_cursor)


@router.get("/{name}/report", responses=problem_responses(404, 503))
def segment_report(name: SegmentName, session: SessionDep, holder: HolderDep) -> SegmentReport:
    """Persona: size and share, attribute distributions against all users, top tags by
    lift, top items, lifecycle mix, and quality figures (overlaps, warnings)."""
    model = require_model(holder, "a persona report")
    jobs.ensure_builtin_segments(session)
    segment = existing_segment(session, name)
    if segment.model_version != model.version:
        jobs.refresh_segment(session, model, name, segment.rule)
    return SegmentReport(
        segment=name,
        rule=segment.rule,
        model_version=model.version,
        report=jobs.report(session, model, name, segment.rule),
    )
