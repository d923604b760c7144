"""GET /v1/users/{user_id}/profile: the persona of one user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import ApiKeyDep, SessionDep
from api.errors import ProblemError
from api.schemas.common import ID_MAX, problem_responses
from api.serving import HolderDep, known_to_model
from api.store.segments import segments_of_user
from api.store.users import get_user
from matching.tagspace import declared_persona

router = APIRouter(
    prefix="/v1/users",
    tags=["personas"],
    dependencies=[ApiKeyDep],
    responses=problem_responses(401),
)


class TagWeight(BaseModel):
    tag: str
    weight: float
    source: str


class ProfileOut(BaseModel):
    user_id: str
    model_version: str | None
    attributes: dict[str, Any]
    tags: list[TagWeight]
    top_interests: list[Any]
    lifecycle: str
    rfm: dict[str, int]
    segments: list[str]


@router.get("/{user_id}/profile", responses=problem_responses(404, 422))
def profile(
    user_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    session: SessionDep,
    holder: HolderDep,
) -> ProfileOut:
    """Declared tags as stored now; behavioural, predicted and system tags as of the
    serving model's last training run."""
    user = get_user(session, user_id)
    if user is None:
        raise ProblemError(404, "User not found", f"no user {user_id!r}")
    model = holder.current
    row = None
    if model is not None and known_to_model(model, user):
        row = model.users.index(user_id)
    attributes = dict(user.attributes or {})
    tags = dict(user.tags or {})
    if model is not None and row is not None:
        persona = model.tagspace.user_persona(row, attributes, tags)
    else:
        persona = declared_persona(attributes, tags)
    return ProfileOut(
        user_id=user_id,
        model_version=model.version if model is not None else None,
        attributes=attributes,
        segments=segments_of_user(session, user_id),
        **persona,
    )
