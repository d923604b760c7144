"""Recommend, similar items and audiences: the model's answers with the live state applied.

Pure in-memory work: the model (a snapshot) plus what changed since it (api/live). Filters go
inside the index search, so `n` results come back whenever that many qualify.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from api.errors import ProblemError
from api.live import ItemView
from api.model_holder import Serving
from matching import precomputed
from matching.foldin import RecentEvents
from matching.model import Recommendations, Scored


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """A segment as an audience filter needs it: its rule at one revision."""

    name: str
    rule: str
    revision: str


def item_not_found(item_id: str) -> ProblemError:
    return ProblemError(404, "Item not found", f"no item {item_id!r}")


def _rows(mask: np.ndarray) -> np.ndarray | None:
    """Row ids for an index filter; None when everything is allowed (no filter is fastest)."""
    return None if bool(mask.all()) else np.flatnonzero(mask).astype(np.int64)


def item_rows(
    serving: Serving, now: float, *, category: str | None = None, tag: str | None = None
) -> np.ndarray | None:
    """The model's items an answer may contain at `now`: live (published, not expired, not
    deleted), in `category` and carrying `tag` when given."""
    mask, rows = serving.live.available_items(now)
    if category is None and tag is None:
        return rows
    mask = mask.copy()
    for only_rows in (
        serving.caches.items_in_category(category) if category is not None else None,
        serving.caches.items_with_tag(tag) if tag is not None else None,
    ):
        if only_rows is not None:
            only = np.zeros_like(mask)
            only[only_rows] = True
            mask &= only
    return np.flatnonzero(mask).astype(np.int64)


def recommend(
    serving: Serving,
    user_id: str,
    n: int,
    *,
    now: float,
    category: str | None = None,
    tag: str | None = None,
    exclude_seen: bool = True,
) -> Recommendations:
    """personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error."""
    model, user = serving.model, serving.live.user(user_id)
    recent = user.recent
    if user.row is not None and not recent and exclude_seen and category is None and tag is None:
        # No event since the snapshot: the answer stored at training, less what is no longer
        # available (matching/precomputed.py), when enough is left; a user without events is
        # answered from declared data, so a change to it sends them online.
        mask, rows = serving.live.available_items(now)
        stored = precomputed.recommend(
            model,
            user_id,
            n,
            available=None if rows is None else mask,
            attributes=user.attributes,
            declared_tags=user.tags,
        )
        if stored is not None:
            return stored
    # The model excludes what its snapshot held; the live state adds what arrived since, and
    # those events fold the user's vector in (a user the snapshot lacks gets one).
    seen = user.recent_item_ids if exclude_seen else set()
    return model.recommend(
        user_id if user.row is not None else None,
        n,
        attributes=user.attributes,
        declared_tags=user.tags,
        exclude_item_ids=seen,
        allowed_item_rows=item_rows(serving, now, category=category, tag=tag),
        exclude_seen=exclude_seen,
        recent_events=RecentEvents(
            item_ids=[e.item_id for e in recent],
            types=[e.type for e in recent],
            values=[e.value for e in recent],
            ts=[e.ts.timestamp() for e in recent],
        )
        if recent
        else None,
    )


def existing_item(serving: Serving, item_id: str) -> ItemView:
    item = serving.live.item(item_id)
    if not item.exists:
        raise item_not_found(item_id)
    return item


def similar_items(serving: Serving, item_id: str, n: int, *, now: float) -> list[Scored]:
    """Items close to this one in the joint space; an item without events is placed by its
    tags and text."""
    item = existing_item(serving, item_id)
    return serving.model.similar_items(
        item_id if item.row is not None else None,
        n,
        title=item.title,
        text=item.text,
        tags=item.tags,
        allowed_item_rows=item_rows(serving, now),
        exclude_item_ids=[item_id],
    )


def audience(
    serving: Serving,
    item_id: str,
    n: int,
    *,
    segment: SegmentRule | None = None,
    tag: str | None = None,
    exclude_seen: bool = True,
    consent_only: bool = False,
    exclude_user_ids: Collection[str] = (),
) -> list[Scored]:
    """The users most likely to engage with an item (one with tags and no events too),
    optionally only inside a segment, among users with a tag, and with push consent."""
    item = existing_item(serving, item_id)
    mask, allowed = serving.live.allowed_users(consent_only=consent_only)
    if segment is not None:
        mask = mask & serving.caches.segment_mask(segment.name, segment.revision, segment.rule)
    if tag is not None:
        mask = mask & serving.caches.users_with_tag(tag)
    if segment is not None or tag is not None:
        allowed = _rows(mask)
    excluded = set(exclude_user_ids)
    if exclude_seen:
        # The model excludes who its snapshot saw engage; the live state adds who since.
        excluded |= serving.live.users_who_saw(item_id)
    if item.row is not None and exclude_seen and segment is None and tag is None:
        # The audience stored at training, less who may not or need not get it now.
        stored = precomputed.audience(
            serving.model,
            item_id,
            n,
            allowed=None if allowed is None else mask,
            exclude_user_ids=excluded,
        )
        if stored is not None:
            return stored
    return serving.model.audience(
        item_id if item.row is not None else None,
        n,
        title=item.title,
        text=item.text,
        tags=item.tags,
        allowed_user_rows=allowed,
        exclude_user_ids=excluded,
        exclude_seen=exclude_seen,
    )
