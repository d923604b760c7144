"""`tagmatch keys create|list|revoke`: API keys with scopes, from the command line.
Each change is written to the audit log as done by "cli" from "local"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from api.settings import Settings
from api.store import audit, keys
from api.store.db import create_db_engine, make_session_factory, session_scope

keys_app = typer.Typer(help="API keys with scopes (ingest, serve, marketing, admin).")


@contextmanager
def _session() -> Iterator[Session]:
    engine = create_db_engine(Settings().database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="what the key is for")],
    scope: Annotated[
        list[str], typer.Option(help="repeat for several: ingest, serve, marketing, admin")
    ],
) -> None:
    """Create a key and print it once; only its hash is stored."""
    try:
        with _session() as session:
            row, key = keys.create_key(session, name, scope)
            audit.record(
                session,
                "key.create",
                row.id,
                key_id="cli",
                client="local",
                detail={"scopes": scope},
            )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--scope") from None
    typer.echo(f"id: {row.id}\nscopes: {', '.join(row.scopes)}\nkey: {key}")


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, name, scopes, created, revoked."""
    with _session() as session:
        for row in keys.list_keys(session):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            typer.echo(
                f"{row.id}  {row.name}  {','.join(row.scopes)}  "
                f"created {row.created_at:%Y-%m-%d %H:%M}  {revoked}"
            )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id")]) -> None:
    """Revoke a key; it stops working within seconds on every replica."""
    with _session() as session:
        if not keys.revoke_key(session, key_id):
            typer.echo(f"no active key {key_id}", err=True)
            raise typer.Exit(1)
        audit.record(session, "key.revoke", key_id, key_id="cli", client="local")
    typer.echo(f"revoked {key_id}")
