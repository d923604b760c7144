"""Admin: API keys (POST/GET /v1/keys, DELETE /v1/keys/{id}) and the audit log (GET /v1/audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AuditDep, SessionDep, require_scope
from api.errors import ProblemError
from api.schemas.common import ROW_ID_MAX, problem_responses
from api.schemas.keys import AuditEntryOut, AuditPage, KeyCreated, KeyIn, KeyList, KeyOut
from api.store import audit, keys
from api.store.tables import ApiKey

router = APIRouter(
    prefix="/v1",
    tags=["admin"],
    dependencies=[require_scope("admin")],
    responses=problem_responses(401, 403, 429),
)


def _out(row: ApiKey) -> KeyOut:
    return KeyOut(
        id=row.id,
        name=row.name,
        scopes=list(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


@router.post("/keys", status_code=201, responses=problem_responses(422))
def create_key(body: KeyIn, session: SessionDep, audited: AuditDep) -> KeyCreated:
    row, key = keys.create_key(session, body.name, list(body.scopes))
    audited("key.create", row.id, scopes=list(row.scopes))
    return KeyCreated(**_out(row).model_dump(), key=key)


@router.get("/keys")
def list_keys(session: SessionDep) -> KeyList:
    return KeyList(keys=[_out(row) for row in keys.list_keys(session)])


@router.delete("/keys/{key_id}", status_code=204, responses=problem_responses(404))
def revoke_key(
    key_id: Annotated[str, Path(max_length=32)], session: SessionDep, audited: AuditDep
) -> Response:
    if not keys.revoke_key(session, key_id):
        raise ProblemError(404, "Key not found", f"no active key {key_id!r}")
    audited("key.revoke", key_id)
    return Response(status_code=204)


@router.get("/audit")
def read_audit(
    session: SessionDep,
    before: Annotated[
        int | None, Query(ge=1, le=ROW_ID_MAX, description="older than this entry id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> AuditPage:
    """Newest first, in pages."""
    rows = audit.page(session, before=before, limit=limit)
    entries = [
        AuditEntryOut(
            id=r.id,
            at=r.at,
            key_id=r.key_id,
            action=r.action,
            target=r.target,
            client=r.client,
            detail=r.detail,
        )
        for r in rows
    ]
    return AuditPage(entries=entries, next_before=rows[-1].id if len(rows) == limit else None)
