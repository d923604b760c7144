"""A user's persona: declared data as stored now; behavioural, predicted and system tags as of
the serving model's training run."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.model_holder import Serving
from api.store.segments import segments_of_user
from api.store.users import get_user
from matching.tagspace import declared_persona


def profile(session: Session, serving: Serving | None, user_id: str) -> dict[str, Any]:
    user = get_user(session, user_id)
    if user is None:
        raise ProblemError(404, "User not found", f"no user {user_id!r}")
    attributes, tags = dict(user.attributes or {}), dict(user.tags or {})
    row = serving.live.user(user_id).row if serving is not None else None
    if serving is not None and row is not None:
        persona = serving.model.tagspace.user_persona(row, attributes, tags)
    else:
        persona = declared_persona(attributes, tags)
    return {
        "user_id": user_id,
        "model_version": serving.model.version if serving is not None else None,
        "attributes": attributes,
        "segments": segments_of_user(session, user_id),
        **persona,
    }
