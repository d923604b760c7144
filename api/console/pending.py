"""TEMPORARY: the calls the console makes, until api/services lands on main; then each is
replaced by the service function of the same purpose and this module is deleted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.jobs import segments as segment_jobs
from api.model_holder import ModelHolder
from api.routes import segments as segment_routes
from api.schemas.segments import SegmentIn
from api.serving import require_model
from api.store import segments as segment_store
from api.store.console import item_titles as item_titles
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
