"""What every serving route shares: the model dependency and the filters built from the store.

The model is a snapshot; the store is the truth. Filters start from what the model knew
(item windows, consent) and apply what changed in the store since its snapshot, so a
deletion, an expiry, an erasure or a withdrawn consent counts in the very next answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.model_holder import ModelHolder
from api.store import freshness
from api.store.tables import User
from api.store.users import erased_user_ids_since
from matching.model import TrainedModel


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.model_holder
    return holder


HolderDep = Annotated[ModelHolder, Depends(get_holder)]


def require_model(holder: ModelHolder, purpose: str) -> TrainedModel:
    model = holder.current
    if model is None:
        raise ProblemError(
            503,
            "No model yet",
            f"{purpose} needs a trained model; run `tagmatch train` or POST /v1/models/train",
        )
    return model


def snapshot_time(model: TrainedModel) -> datetime:
    return datetime.fromtimestamp(model.snapshot_time, UTC)


def known_to_model(model: TrainedModel, user: User) -> bool:
    """The model has this user, and it is still the same person. Erasure deletes the row, so
    a row created after the snapshot is someone new reusing an erased id, whom the old
    history must not describe; such a user is served as a new one. (No margin here, unlike
    api.store.freshness: it would turn every user created just before a training run cold.)"""
    if model.users.index(user.id) is None:
        return False
    return user.created_at <= snapshot_time(model)


def _rows(mask: np.ndarray) -> np.ndarray | None:
    """Row ids for an index filter; None when everything is allowed (no filter is fastest)."""
    return None if bool(mask.all()) else np.flatnonzero(mask).astype(np.int64)


def available_item_mask(model: TrainedModel, session: Session, now: datetime) -> np.ndarray:
    """Items published, not expired and not deleted at `now`."""
    mask = model.items_available(now.timestamp())
    for window in freshness.items_changed_since(session, snapshot_time(model)):
        row = model.items.index(window.id)
        if row is not None:
            mask[row] = window.available(now)
    return mask


def item_filter(
    model: TrainedModel,
    session: Session,
    now: datetime,
    *,
    category: str | None = None,
    tag: str | None = None,
) -> np.ndarray | None:
    mask = available_item_mask(model, session, now)
    if category is not None:
        only = np.zeros_like(mask)
        only[model.items_in_category(category)] = True
        mask &= only
    if tag is not None:
        only = np.zeros_like(mask)
        only[model.items_with_tag(tag)] = True
        mask &= only
    return _rows(mask)


def user_mask(
    model: TrainedModel,
    session: Session,
    *,
    members: set[str] | None = None,
    consent_only: bool = False,
) -> np.ndarray:
    """Users an audience may contain: not erased since the snapshot, in the segment (when
    given), and with push consent as the store says now (when asked)."""
    since = snapshot_time(model)
    if consent_only:
        mask = np.array(model.user_consent, dtype=np.bool_)
        for user_id, consent in freshness.consent_changed_since(session, since).items():
            row = model.users.index(user_id)
            if row is not None:
                mask[row] = consent
    else:
        mask = np.ones(len(model.users), dtype=bool)
    if members is not None:
        only = np.zeros(len(mask), dtype=np.bool_)
        rows = model.user_rows(members)
        only[rows[rows >= 0]] = True
        mask = mask & only
    erased = model.user_rows(erased_user_ids_since(session, since))
    mask[erased[erased >= 0]] = False
    return mask


def user_filter(mask: np.ndarray) -> np.ndarray | None:
    return _rows(mask)
