"""GET /v1/users/{user_id}/profile: the persona of one user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import ServingDep, SessionDep, require_scope
from api.schemas.common import ID_MAX, problem_responses
from api.services import profiles as service

router = APIRouter(
    prefix="/v1/users",
    tags=["personas"],
    dependencies=[require_scope("serve")],
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
    serving: ServingDep,
) -> ProfileOut:
    """Declared tags as stored now; behavioural, predicted and system tags as of the
    serving model's last training run."""
    return ProfileOut(**service.profile(session, serving, user_id))
