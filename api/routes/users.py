"""PUT /v1/users, GET and DELETE /v1/users/{user_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request, Response

from api import ingest
from api.deps import AuditDep, SessionDep, batch_limit, require_scope
from api.errors import ProblemError
from api.pseudonyms import person_ref
from api.schemas.common import ID_MAX, Upserted, problem_responses
from api.schemas.users import UserBatch, UserOut
from api.store import users

router = APIRouter(
    prefix="/v1/users",
    tags=["users"],
    dependencies=[require_scope("ingest", DELETE="admin")],
    responses=problem_responses(401),
)

UserId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]


@router.put(
    "",
    summary="Insert or update users in one batch",
    dependencies=[Depends(batch_limit("users"))],
    responses=problem_responses(413, 422),
)
def put_users(batch: UserBatch, session: SessionDep) -> Upserted:
    """All or nothing: one invalid record rejects the batch. The same id twice: the later
    record's fields win."""
    written = ingest.write_users(session, [user.to_record() for user in batch.users])
    return Upserted(upserted=written)


@router.get("/{user_id}", responses=problem_responses(404, 422))
def get_user(user_id: UserId, session: SessionDep) -> UserOut:
    user = users.get_user(session, user_id)
    if user is None:
        raise ProblemError(404, "User not found", f"no user {user_id!r}")
    return UserOut.from_row(user)


@router.delete(
    "/{user_id}",
    status_code=204,
    summary="Erase a user: attributes, tags, events and push history",
    responses=problem_responses(404, 422),
)
def erase_user(
    user_id: UserId,
    session: SessionDep,
    audited: AuditDep,
    request: Request,
    after: BackgroundTasks,
) -> Response:
    """Gone from answers at once: serving drops erased users even from older models. Gone
    from the stored model versions within seconds (docs/operations.md)."""
    if not users.erase_user(session, user_id):
        raise ProblemError(404, "User not found", f"no user {user_id!r}")
    audited("user.erase", person_ref(user_id))
    # After the commit (the session's scope ends with the route): the purge then sees it.
    after.add_task(request.app.state.erasure_purger.poke)
    return Response(status_code=204)
