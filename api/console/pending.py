"""TEMPORARY: the calls the console makes, until api/services lands on main; then each is
replaced by the service function of the same purpose and this module is deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Response
from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.jobs import segments as segment_jobs
from api.model_holder import ModelHolder
from api.routes import audiences as audience_routes
from api.routes import profiles as profile_routes
from api.routes import push_lists as push_routes
from api.routes import recommendations as recommendation_routes
from api.routes import segments as segment_routes
from api.schemas.push_lists import FrequencyCap, PushListRequest
from api.schemas.segments import SegmentIn
from api.schemas.serving import AudienceOut
from api.serving import require_model, snapshot_time, user_mask
from api.store import push_lists as push_store
from api.store import segments as segment_store
from api.store.console import item_titles as item_titles
from api.store.events import users_who_saw_item
from api.store.tables import Segment
from matching.model import TrainedModel


def list_segments(session: Session) -> list[Segment]:
    segment_jobs.ensure_builtin_segments(session)
    return segment_store.list_segments(session)


def rule_size(model: TrainedModel | None, rule: str) -> int | None:
    from matching.segments import parse_rule

    parse_rule(rule)
    if model is None:
        return None
    return int(segment_jobs.member_mask(model, rule).sum())


def put_segment(
    session: Session, model: TrainedModel | None, name: str, rule: str, description: str
) -> None:
    holder = _Holder(model)
    segment_routes.put_segment(name, SegmentIn(rule=rule, description=description), session, holder)  # type: ignore[arg-type]


@dataclass
class _Holder:
    current: TrainedModel | None


@dataclass
class Report:
    segment: str
    rule: str
    model_version: str
    report: dict[str, Any]


def segment_report(session: Session, holder: ModelHolder, name: str, *, min_count: int) -> Report:
    model = require_model(holder, "a persona report")
    segment_jobs.ensure_builtin_segments(session)
    segment = segment_store.get_segment(session, name)
    if segment is None:
        raise ProblemError(404, "Segment not found", f"no segment {name!r}")
    if segment.model_version != model.version:
        segment_jobs.refresh_segment(session, model, name, segment.rule)
    body = segment_jobs.report(session, model, name, segment.rule, min_count=min_count)
    return Report(name, segment.rule, model.version, body)


# ---- audiences and push lists


def audience_preview(
    session: Session, holder: ModelHolder, item_id: str, n: int, segment: str | None
) -> AudienceOut:
    return audience_routes.audience(item_id, session, holder, n, segment, None, True)


def deliverable_reach(
    session: Session,
    holder: ModelHolder,
    item_id: str,
    *,
    segment: str | None,
    frequency_cap: FrequencyCap | None,
    exclude_seen: bool = True,
) -> int:
    """How many users a push list of unlimited size would hold: in the segment, with push
    consent now, not erased, under the frequency cap, and (by default) not yet engaged with
    the item. The same filters the push list's search applies, counted instead of ranked."""
    model = require_model(holder, "a reach estimate")
    item = audience_routes.existing_item(session, item_id)
    members = None if segment is None else audience_routes.segment_members(session, segment)
    mask = user_mask(model, session, members=members, consent_only=True)
    excluded: set[str] = set()
    if frequency_cap is not None:
        since = datetime.now(UTC) - timedelta(hours=frequency_cap.hours)
        excluded |= push_store.capped_user_ids(session, since, frequency_cap.max)
    row = model.items.index(item.id)
    if exclude_seen:
        since_snapshot = snapshot_time(model) if row is not None else None
        excluded |= users_who_saw_item(session, item.id, outside_snapshot=since_snapshot)
        if row is not None:
            mask[model.interacted_users(row)] = False
    rows = model.user_rows(excluded)
    mask[rows[rows >= 0]] = False
    return int(mask.sum())


def create_push_list(session: Session, holder: ModelHolder, request: PushListRequest) -> str:
    return push_routes.create_push_list(request, session, holder).id


def push_list_csv(session: Session, list_id: str) -> Response:
    return push_routes.get_push_list(list_id, session, "csv")


# ---- users


def profile(session: Session, holder: ModelHolder, user_id: str) -> Any:
    return profile_routes.profile(user_id, session, holder)


def recommendations(session: Session, holder: ModelHolder, user_id: str, n: int) -> Any:
    return recommendation_routes.recommend(user_id, session, holder, n, None, None, True)
