"""API keys with scopes, stored hashed.

A key reads `tm_<id>_<secret>`: the id finds the row, the secret's SHA-256 is compared in
constant time. The secret is 256 random bits, so a plain hash is enough (no slow KDF: nobody
can guess it from a dictionary); only the hash is stored, the key is shown once at creation.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from api.store.tables import ApiKey, utcnow

SCOPES: tuple[str, ...] = ("ingest", "serve", "marketing", "admin")
PREFIX = "tm"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a stored key's id, or "env" for TAGMATCH_API_KEY."""

    key_id: str
    scopes: frozenset[str]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new key; returns the row and the key text, which is never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        name=name,
        secret_hash=_digest(secret),
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, f"{PREFIX}_{key_id}_{secret}"


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, key_id: str) -> bool:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def any_active_key(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(ApiKey.revoked_at.is_(None)))))


def authenticate(session: Session, presented: str) -> Principal | None:
    """The principal of a presented key, or None for an unknown, malformed or revoked one."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        # Compare anyway: an unknown id then costs what a wrong secret costs.
        secrets.compare_digest(_digest(secret), _digest(""))
        return None
    if not secrets.compare_digest(_digest(secret), row.secret_hash):
        return None
    return Principal(row.id, frozenset(row.scopes))


def revoked_at(row: ApiKey) -> datetime | None:
    return row.revoked_at
