"""Push lists: a marketer's target list for an item, stored with its members.

Only users with push consent as the STORE says now (a list promises consent, so memory that
may be a poll behind is not enough), never erased ones, and none already pushed
`frequency_cap.max` times within `frequency_cap.hours` by earlier lists. An expired item is a
409: there is nothing left to push.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.model_holder import Serving
from api.schemas.push_lists import (
    FrequencyCap,
    PushListOut,
    PushListPage,
    PushListRequest,
    PushListSummary,
    decode_cursor,
    encode_cursor,
)
from api.schemas.serving import ScoredUser
from api.services.matching import audience, existing_item, item_not_found
from api.services.segments import segment_rule
from api.store import freshness, items
from api.store import push_lists as store
from api.store.bulk import chunks
from api.store.tables import PushListMember
from matching.model import Scored

# Rounds of "rank, then check consent in the store": a round only repeats when a poll-behind
# live state let through users the store refuses, and each round excludes them.
CHECK_ROUNDS = 3


def create_push_list(
    session: Session, serving: Serving, request: PushListRequest, *, now: datetime
) -> PushListOut:
    item = items.get_item(session, request.item_id)
    if item is None:
        raise item_not_found(request.item_id)
    if item.expires_at is not None and item.expires_at <= now:
        # A push for content that is gone leads nowhere and spends a frequency-cap slot.
        # Not yet published is fine: lists are often prepared ahead of a launch.
        raise ProblemError(
            409,
            "Item expired",
            f"item {item.id!r} expired at {item.expires_at.isoformat()}; nothing to push",
            [{"loc": ["body", "item_id"], "msg": "item expired"}],
        )
    excluded: set[str] = set()
    if request.frequency_cap is not None:
        since = now - timedelta(hours=request.frequency_cap.hours)
        excluded = store.capped_user_ids(session, since, request.frequency_cap.max)
    segment = None
    if request.segment is not None:
        segment = segment_rule(session, request.segment, loc=("body", "segment"))
    chosen: list[Scored] = []
    for _ in range(CHECK_ROUNDS):
        found = audience(
            serving,
            item.id,
            request.size,
            segment=segment,
            tag=request.tag,
            exclude_seen=request.exclude_seen,
            consent_only=True,
            exclude_user_ids=excluded,
        )
        allowed = freshness.user_consents(session, [s.id for s in found])
        chosen = [s for s in found if s.id in allowed]
        refused = {s.id for s in found} - allowed
        if not refused or len(found) < request.size:
            break
        excluded |= refused
    users = [ScoredUser.of(s) for s in chosen]
    push_list = store.create_push_list(
        session,
        list_id=uuid.uuid4().hex,
        item_id=item.id,
        created_at=now,
        model_version=serving.model.version,
        request=request.model_dump(mode="json"),
        members=[(u.user_id, u.score, u.reasons) for u in users],
    )
    return PushListOut(
        id=push_list.id,
        item_id=item.id,
        created_at=now,
        model_version=serving.model.version,
        request=push_list.request,
        users=users,
    )


def deliverable_reach(
    session: Session,
    serving: Serving,
    item_id: str,
    *,
    segment: str | None,
    frequency_cap: FrequencyCap | None,
    exclude_seen: bool = True,
    now: datetime,
) -> int:
    """How many users a push list of unlimited size would hold now: the same filters as
    create_push_list (segment, consent as the store says, not erased, under the frequency
    cap, not engaged with the item), counted instead of ranked."""
    existing_item(serving, item_id)
    mask = serving.live.user_mask(consent_only=True)
    if segment is not None:
        rule = segment_rule(session, segment, loc=("query", "segment"))
        mask = mask & serving.caches.segment_mask(rule.name, rule.revision, rule.rule)
    excluded: set[str] = set()
    if frequency_cap is not None:
        since = now - timedelta(hours=frequency_cap.hours)
        excluded = store.capped_user_ids(session, since, frequency_cap.max)
    model = serving.model
    if exclude_seen:
        excluded |= serving.live.users_who_saw(item_id)
        row = model.items.index(item_id)
        if row is not None:
            mask[model.interacted_users(row)] = False
    rows = model.user_rows(excluded)
    mask[rows[rows >= 0]] = False
    candidates = model.users.lookup(np.flatnonzero(mask))
    # In chunks: a reach can be far larger than the bound parameters one query may carry.
    return sum(len(freshness.user_consents(session, c)) for c in chunks(candidates, 5_000))


def get_push_list(session: Session, list_id: str) -> tuple[PushListOut, list[PushListMember]]:
    push_list = store.get_push_list(session, list_id)
    if push_list is None:
        raise ProblemError(404, "Push list not found", f"no push list {list_id!r}")
    members = store.push_list_members(session, list_id)
    body = PushListOut(
        id=push_list.id,
        item_id=push_list.item_id,
        created_at=push_list.created_at,
        model_version=push_list.model_version,
        request=dict(push_list.request),
        users=[
            ScoredUser(user_id=m.user_id, score=m.score, reasons=list(m.reasons or []))
            for m in members
        ],
    )
    return body, members


# What a push needs; more (rank, reasons: a user's tags) only when asked and allowed.
CSV_COLUMNS = ("list_id", "user_id", "score")
CSV_EXTRA_FIELDS = ("rank", "reasons")


def members_csv(list_id: str, members: list[PushListMember], extra: tuple[str, ...] = ()) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *extra])
    for m in members:
        values = {"rank": m.rank, "reasons": "|".join(m.reasons or [])}
        writer.writerow([list_id, m.user_id, f"{m.score:.6f}", *(values[f] for f in extra)])
    return buffer.getvalue()


def list_push_lists(session: Session, cursor: str | None, limit: int) -> PushListPage:
    """Saved lists newest first, without members; a cursor this API did not hand out is a 422
    naming it."""
    try:
        position = None if cursor is None else decode_cursor(cursor)
    except ValueError as error:
        raise ProblemError(
            422, "Invalid cursor", str(error), [{"loc": ["query", "cursor"], "msg": str(error)}]
        ) from None
    rows, next_position = store.list_push_lists(session, position, limit)
    return PushListPage(
        push_lists=[
            PushListSummary(
                id=r.id,
                item_id=r.item_id,
                created_at=r.created_at,
                model_version=r.model_version,
                size=r.size,
                request=dict(r.request),
            )
            for r in rows
        ],
        next_cursor=encode_cursor(next_position),
    )
