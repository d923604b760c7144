"""Segments: named rules over the tag space, their stored members, and persona reports.

Reads never write: built-in segments exist from migration 0007, members are refreshed by
training runs, on PUT and on an explicit POST .../refresh. Audiences and reports evaluate a
rule in memory on the serving model, once per rule revision (api/live/caches.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.jobs import segments as jobs
from api.model_holder import Serving
from api.services.matching import SegmentRule
from api.store import segments as store
from api.store.tables import Segment
from matching.persona import persona_report
from matching.segments import RuleError, evaluate, parse_rule, referenced_tags


def existing_segment(
    session: Session, name: str, *, loc: Sequence[str] = ("path", "name")
) -> Segment:
    segment = store.get_segment(session, name)
    if segment is None:
        raise ProblemError(
            404,
            "Segment not found",
            f"no segment {name!r}",
            [{"loc": list(loc), "msg": "unknown segment"}],
        )
    return segment


def rule_of(segment: Segment) -> SegmentRule:
    # The rule's revision: any PUT moves updated_at, so a cached mask never outlives its rule.
    return SegmentRule(segment.name, segment.rule, segment.updated_at.isoformat())


def segment_rule(session: Session, name: str, *, loc: Sequence[str]) -> SegmentRule:
    return rule_of(existing_segment(session, name, loc=loc))


def validate_rule(rule: str) -> None:
    try:
        parse_rule(rule)
    except RuleError as error:
        raise ProblemError(
            422, "Invalid segment rule", str(error), [{"loc": ["body", "rule"], **error.to_dict()}]
        ) from None


def put_segment(
    session: Session, serving: Serving | None, name: str, rule: str, description: str
) -> Segment:
    """Create or replace a segment. Members are computed at once when a model exists."""
    validate_rule(rule)
    current = store.get_segment(session, name)
    if current is not None and current.builtin:
        raise ProblemError(409, "Built-in segment", f"{name!r} is built in and cannot change")
    segment = store.put_segment(session, name, rule, description)
    if serving is not None:
        jobs.refresh_segment(session, serving.model, name, rule)
    return segment


def delete_segment(session: Session, name: str) -> None:
    if existing_segment(session, name).builtin:
        raise ProblemError(409, "Built-in segment", f"{name!r} is built in and cannot be deleted")
    store.delete_segment(session, name)


def refresh_segment(session: Session, serving: Serving, name: str) -> Segment:
    """Re-evaluate the rule on the serving model now and store the members."""
    segment = existing_segment(session, name)
    jobs.refresh_segment(session, serving.model, name, segment.rule)
    return segment


def member_page(
    session: Session, name: str, cursor: str | None, limit: int
) -> tuple[list[str], str | None]:
    existing_segment(session, name)
    return store.page_members(session, name, cursor, limit)


def rule_size(serving: Serving | None, rule: str) -> int | None:
    """How many users `rule` matches on the serving model now (erased users excluded): the
    size a save would store. RuleError when the rule does not parse; None without a model.
    For live feedback while a rule is typed: nothing is stored or cached."""
    parsed = parse_rule(rule)
    if serving is None:
        return None
    matched = evaluate(parsed, serving.caches.segment_context())
    return int((matched & serving.live.user_mask(consent_only=False)).sum())


def report(session: Session, serving: Serving, name: str, *, min_count: int = 5) -> dict[str, Any]:
    """Persona of a segment on the serving model, against all users, with its overlaps with
    every other segment; erased users are in none of them. A tag enters the lift ranking
    when at least `min_count` members hold it."""
    segment = existing_segment(session, name)
    live_users = serving.live.user_mask(consent_only=False)

    def mask_of(row: Segment) -> Any:
        rule = rule_of(row)
        return serving.caches.segment_mask(rule.name, rule.revision, rule.rule) & live_users

    model = serving.model
    return persona_report(
        mask_of(segment),
        model.tagspace,
        model.events,
        model.items,
        other_segments={s.name: mask_of(s) for s in store.list_segments(session) if s.name != name},
        exclude_tags=referenced_tags(parse_rule(segment.rule)),
        min_count=min_count,
    )
