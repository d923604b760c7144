"""Annotated dependencies for routes: settings, a session per request, the serving model with
its live state, API-key auth, batch size."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.auth import Authenticator
from api.errors import ProblemError
from api.live.writes import WriteCounter
from api.model_holder import ModelHolder, Serving
from api.settings import Settings
from api.store import audit
from api.store.db import is_sqlite, session_scope

log = logging.getLogger("tagmatch.deps")
LIVE_STATE_HEADER = "Tagmatch-Live-State"


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


_SQLITE_WRITERS = threading.Lock()


@contextmanager
def _sqlite_writer_turn(request: Request) -> Iterator[None]:
    """This process's writers queue on a lock before SQLite's: its busy handler polls with
    growing sleeps and lets a writer starve under load, a lock hands over at once. Waiting
    is bounded by the same busy timeout."""
    timeout = request.app.state.settings.sqlite_busy_timeout_ms / 1000
    if not _SQLITE_WRITERS.acquire(timeout=timeout):
        log.warning("no turn to write within %.1f s on %s", timeout, request.url.path)
        raise ProblemError(
            503,
            "Store busy",
            "the database is busy with other writes; nothing was written, retry shortly",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        _SQLITE_WRITERS.release()


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises. A committed request that may
    have written is counted, so this process's next answer reads it first (api/live).
    Reading requests do not queue for SQLite's write lock; writing ones do, so concurrent
    writers wait their turn instead of failing."""
    sqlite = is_sqlite(request.app.state.engine)
    read_only = request.method in READING_METHODS and sqlite
    with (
        _sqlite_writer_turn(request) if sqlite and not read_only else nullcontext(),
        session_scope(request.app.state.session_factory, read_only=read_only) as session,
    ):
        yield session
    if request.method not in READING_METHODS:
        writes: WriteCounter = request.app.state.writes
        own_events = getattr(request.state, "own_events", None)
        if own_events is None:
            writes.committed()
        else:  # a write of events only: it changes only answers about their users and items
            serving = request.app.state.model_holder.serving
            writes.committed_events(own_events, None if serving is None else serving.live)


# scope="function": commit before the response is sent, so a failed commit is a 5xx, never a
# 200 for data that was not written.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _presented_key(request: Request) -> str | None:
    """`X-API-Key`, else `Authorization: Bearer`; an empty header counts as absent."""
    given = request.headers.get("x-api-key", "").strip()
    if given:
        return given
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


ANY_SCOPE = "*"  # any valid key will do


def authenticate(request: Request, scope: str) -> None:
    """401 without a valid key, 403 when the key lacks `scope`, 429 after repeated failed
    keys from this client. The principal is left on request.state for the audit log."""
    authenticator: Authenticator = request.app.state.authenticator
    request.state.principal = None
    if not authenticator.required():
        return
    client = request.client.host if request.client else "unknown"
    wait = authenticator.brake.retry_after(client)
    if wait is not None:
        raise ProblemError(
            429,
            "Too many failed keys",
            "this client sent too many wrong API keys; wait before trying again",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    presented = _presented_key(request)
    principal = None if presented is None else authenticator.principal(presented)
    if principal is None:
        if presented is not None:
            authenticator.brake.failed(client)
        raise ProblemError(
            401,
            "Unauthorized",
            "send a valid API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scope != ANY_SCOPE and scope not in principal.scopes:
        raise ProblemError(
            403, "Forbidden", f"this API key lacks the {scope!r} scope this request needs"
        )
    request.state.principal = principal


def require_scope(scope: str, **per_method_or_path: str) -> Any:
    """A router dependency: requests need a key holding `scope`. Keyword overrides name
    another scope for one HTTP method (DELETE="admin") or for paths ending in a word
    (audience="marketing")."""

    async def check(request: Request) -> None:
        needed = per_method_or_path.get(request.method)
        if needed is None:
            last = request.url.path.rstrip("/").rsplit("/", 1)[-1]
            needed = per_method_or_path.get(last, scope)
        await authorize(request, needed)

    return Depends(check)


async def authorize(request: Request, scope: str) -> None:
    """authenticate(), on the event loop when the answer is in memory (the usual case),
    else in a thread (it reads the store)."""
    authenticator: Authenticator = request.app.state.authenticator
    if authenticator.answers_from_memory(_presented_key(request)):
        authenticate(request, scope)
    else:
        await run_in_threadpool(authenticate, request, scope)


# Every scope at once: for what the scoped keys replace (TAGMATCH_API_KEY holds them all).
ApiKeyDep = require_scope("admin")


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


async def current_serving(
    request: Request, about: Collection[str] | None = None
) -> tuple[Serving | None, dict[str, str]]:
    """The model and its live state for one answer (None before the first model), with the
    headers the answer must carry.

    A write this process acknowledged is read into the live state before the next answer
    it can change (`about`: the answer is about these users and items, api.live.writes);
    other processes' writes arrive by the poller within `live_poll_seconds`. When the store
    cannot be read the answer comes from memory, marked by the `Tagmatch-Live-State` header.
    """
    holder: ModelHolder = request.app.state.model_holder
    serving = holder.serving
    if serving is None:
        return None, {}
    settings: Settings = request.app.state.settings
    writes: WriteCounter = request.app.state.writes
    if writes.unseen_by(serving.live, about):
        await asyncio.to_thread(writes.catch_up, serving.live, request.app.state.read_live)
    age = serving.live.age()
    if age is None or age > settings.live_stale_seconds or serving.live.last_error:
        return serving, {LIVE_STATE_HEADER: "stale" if age is None else f"stale; age={age:.1f}"}
    return serving, {}


async def serving_for(
    request: Request, scope: str, about: Collection[str] | None = None
) -> tuple[Serving | None, dict[str, str]]:
    """authorize() and current_serving() as plain calls, for the routes called on every page
    view: FastAPI's dependency solving cost them about a fifth of their CPU. Such a route
    declares no dependencies and must call this first."""
    await authorize(request, scope)
    return await current_serving(request, about)


async def get_serving(request: Request, response: Response) -> Serving | None:
    """current_serving() as a dependency; its headers go on the response."""
    serving, headers = await current_serving(request)
    response.headers.update(headers)
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


class Auditor:
    """Writes audit entries. A writing request's entry goes into its own transaction, so the
    action and its entry commit together or not at all. A reading request (an export) gets
    its entry in a short write transaction of its own: its session is read-only, which on
    SQLite must not turn into a writer half-way."""

    def __init__(self, request: Request, session: Session) -> None:
        self.request = request
        self.session = session
        principal = getattr(request.state, "principal", None)
        self.key_id = principal.key_id if principal is not None else None
        self.client = request.client.host if request.client else None

    def __call__(self, action: str, target: str | None, **detail: Any) -> None:
        if self.request.method not in READING_METHODS:
            self._record(self.session, action, target, detail)
            return
        with self.request.app.state.open_session() as session:
            self._record(session, action, target, detail)

    def _record(
        self, session: Session, action: str, target: str | None, detail: dict[str, Any]
    ) -> None:
        audit.record(session, action, target, key_id=self.key_id, client=self.client, detail=detail)


def get_auditor(request: Request, session: SessionDep) -> Auditor:
    return Auditor(request, session)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
