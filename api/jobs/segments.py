"""Segment membership: rules evaluated over the serving model's tag space, written to the store.

Runs after every training run (all segments, on the new model) and on demand (one segment,
when it is created or changed). Evaluation is vectorised in matching.segments; this module
only moves ids between the model and the store.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from api.store import segments as store
from matching.model import TrainedModel
from matching.segments import (
    BUILTIN_SEGMENTS,
    SegmentContext,
    evaluate,
    parse_rule,
)


def context_of(model: TrainedModel) -> SegmentContext:
    # Windows such as events(days=30) count back from the snapshot the model was built on.
    return SegmentContext.build(model.tagspace, model.events, model.snapshot_time)


def ensure_builtin_segments(session: Session) -> None:
    """Built-ins exist from migration 0007; a training run restores one deleted by hand."""
    for name, rule in BUILTIN_SEGMENTS.items():
        if store.get_segment(session, name) is None:
            store.put_segment(
                session, name, rule, f"built-in: lifecycle stage {rule}", builtin=True
            )


def member_mask(
    model: TrainedModel, rule_text: str, context: SegmentContext | None = None
) -> np.ndarray:
    return evaluate(parse_rule(rule_text), context or context_of(model))


def refresh_segment(
    session: Session,
    model: TrainedModel,
    name: str,
    rule_text: str,
    context: SegmentContext | None = None,
) -> int:
    mask = member_mask(model, rule_text, context)
    ids = model.users.lookup(np.flatnonzero(mask))
    return store.replace_members(session, name, ids, model_version=model.version)


def refresh_all(session: Session, model: TrainedModel) -> dict[str, int]:
    """Every segment re-evaluated on `model`, sharing one context (column and count caches)."""
    ensure_builtin_segments(session)
    context = context_of(model)
    return {
        segment.name: refresh_segment(session, model, segment.name, segment.rule, context)
        for segment in store.list_segments(session)
    }
