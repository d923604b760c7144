"""POST /v1/events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api import ingest
from api.deps import SessionDep, batch_limit, require_scope
from api.errors import ProblemError
from api.schemas.common import problem_responses
from api.schemas.events import EventBatch, EventsAccepted, unknown_event_types

router = APIRouter(
    prefix="/v1/events",
    tags=["events"],
    dependencies=[require_scope("ingest")],
    responses=problem_responses(401),
)


@router.post(
    "",
    summary="Record interactions, idempotently by event id",
    dependencies=[Depends(batch_limit("events"))],
    responses=problem_responses(413, 422),
)
def post_events(batch: EventBatch, session: SessionDep, request: Request) -> EventsAccepted:
    """All or nothing. A resent event id is counted as a duplicate and not stored again.
    Users and items not seen before are created on the fly. An event type that is neither
    weighted in the model configuration nor in TAGMATCH_EXTRA_EVENT_TYPES is a 422."""
    metrics = request.app.state.metrics
    errors = unknown_event_types(batch.events, request.app.state.event_types)
    if errors:
        metrics.events_received(0, 0, rejected=len(batch.events))
        raise ProblemError(422, "Invalid request", "unknown event type", errors)
    records = [event.to_record() for event in batch.events]
    result = ingest.write_events(session, records, keep_rows=True)
    # read-your-writes: once committed, the stored rows go into this process's live state
    request.state.own_events = result.rows
    metrics.events_received(result.accepted, result.duplicates)
    return EventsAccepted(accepted=result.accepted, duplicates=result.duplicates)
