"""Annotated dependencies for routes: settings, a session per request, the serving model with
its live state, API-key auth, batch size."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.live.writes import WriteCounter
from api.model_holder import ModelHolder, Serving
from api.settings import Settings
from api.store.db import is_sqlite, session_scope

log = logging.getLogger("tagmatch.deps")
LIVE_STATE_HEADER = "Tagmatch-Live-State"


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises. A committed request that may
    have written is counted, so this process's next answer reads it first (api/live).
    Reading requests do not queue for SQLite's write lock; writing ones do, so concurrent
    writers wait their turn instead of failing."""
    read_only = request.method in READING_METHODS and is_sqlite(request.app.state.engine)
    with session_scope(request.app.state.session_factory, read_only=read_only) as session:
        yield session
    if request.method not in READING_METHODS:
        writes: WriteCounter = request.app.state.writes
        writes.committed()


# scope="function": commit before the response is sent, so a failed commit is a 5xx, never a
# 200 for data that was not written.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    """With TAGMATCH_API_KEY set, /v1 needs `Authorization: Bearer <key>` or `X-API-Key`.
    (async: pure work, so FastAPI runs it on the event loop instead of a worker thread.)"""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value()
    given = request.headers.get("x-api-key")
    if given is None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else None
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise ProblemError(
            401,
            "Unauthorized",
            "send the API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


ApiKeyDep = Depends(require_api_key)


def batch_limit(field: str) -> Callable[[Request, Settings], Awaitable[None]]:
    """A dependency refusing a batch longer than settings.max_batch with 413, before the
    records are validated one by one (FastAPI has parsed the JSON already; it is cached).
    """

    async def check(request: Request, settings: SettingsDep) -> None:
        try:
            body = await request.json()
        except ValueError:
            return  # not JSON: body validation reports it as a 422
        records = body.get(field) if isinstance(body, dict) else None
        if isinstance(records, list) and len(records) > settings.max_batch:
            raise ProblemError(
                413,
                "Batch too large",
                f"{len(records)} {field} in one request; the limit is {settings.max_batch}",
                [{"loc": ["body", field], "msg": f"at most {settings.max_batch} records"}],
            )

    return check


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.model_holder
    return holder


HolderDep = Annotated[ModelHolder, Depends(get_holder)]


async def get_serving(request: Request, response: Response) -> Serving | None:
    """The model and its live state for one answer (None before the first model).

    A write this process acknowledged is read into the live state before the next answer;
    other processes' writes arrive by the poller within `live_poll_seconds`. When the store
    cannot be read the answer comes from memory, marked by the `Tagmatch-Live-State` header.
    """
    holder: ModelHolder = request.app.state.model_holder
    serving = holder.serving
    if serving is None:
        return None
    settings: Settings = request.app.state.settings
    writes: WriteCounter = request.app.state.writes
    if writes.unseen_by(serving.live):
        await asyncio.to_thread(writes.catch_up, serving.live, request.app.state.open_session)
    age = serving.live.age()
    if age is None or age > settings.live_stale_seconds or serving.live.last_error:
        response.headers[LIVE_STATE_HEADER] = "stale" if age is None else f"stale; age={age:.1f}"
    return serving


ServingDep = Annotated[Serving | None, Depends(get_serving)]


def require_serving(serving: Serving | None, purpose: str) -> Serving:
    if serving is None:
        raise ProblemError(
            503,
            "No model yet",
            f"{purpose} needs a trained model; run `tagmatch train` or POST /v1/models/train",
        )
    return serving
