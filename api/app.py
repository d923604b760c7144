"""The FastAPI application. `create_app(settings)` builds it; nothing happens at import time.

Start-up (lifespan) opens the store and refuses to run on a database that is not at the
newest migration. State lives on app.state:
  settings, engine, session_factory, metrics_registry,
  readiness_checks: list of () -> (name, ok); /readyz runs them all. Append to it for
  anything serving depends on (a loaded model, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from api.auth import Authenticator
from api.console.docs import install_offline_docs
from api.console.router import install_console
from api.deps import ANY_SCOPE, require_scope
from api.errors import install_error_handlers
from api.jobs.erasure_purger import ErasurePurger
from api.jobs.train import load_model_config
from api.live import LiveState, WriteCounter
from api.live.state import SessionOpener
from api.logs import configure_logging
from api.metrics import ServiceMetrics, process_exiting
from api.middleware import HttpMetrics, RequestContextMiddleware, RequestLimitsMiddleware
from api.model_holder import ActiveVersion, ModelHolder
from api.openapi import install_openapi, operation_id
from api.routes import (
    audiences,
    events,
    health,
    items,
    keys,
    models,
    profiles,
    push_lists,
    recommendations,
    segments,
    users,
)
from api.settings import Settings
from api.store.db import (
    SessionFactory,
    StoreTimeouts,
    create_db_engine,
    make_session_factory,
    ping,
    session_scope,
)
from api.store.migrate import require_head
from api.store.models import active_model_version
from api.store.pseudonym_key import load_pseudonym_key
from matching.index import set_search_threads
from matching.model import TrainedModel
from matching.tagging import load_keyword_extractor

log = logging.getLogger("tagmatch.app")

ReadinessCheck = Callable[[], tuple[str, bool]]

DESCRIPTION = """Recommendations and audiences in one shared tag space.

Errors are `application/problem+json` (RFC 9457); `errors[].loc` names the offending field.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    set_search_threads(settings.search_threads)
    engine = create_db_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        timeouts=StoreTimeouts(
            connect_seconds=settings.db_connect_timeout_seconds,
            statement_seconds=settings.db_statement_timeout_seconds,
            pool_seconds=settings.db_pool_timeout_seconds,
        ),
    )
    try:
        require_head(engine)
    except Exception:
        engine.dispose()
        raise
    metrics: ServiceMetrics = app.state.metrics
    metrics.time_store(engine)
    app.state.engine = engine
    app.state.session_factory = factory = make_session_factory(engine)
    load_pseudonym_key(factory, settings.pseudonym_key)  # once per process, before requests
    app.state.readiness_checks.insert(0, lambda: ("store", ping(engine)))
    app.state.open_session = open_session = partial(session_scope, factory)
    # The live state only reads: on SQLite a read-only session begins deferred and holds no
    # write lock, where a default one (BEGIN IMMEDIATE) held it through each worker's read of
    # a new model's events (seconds after a bulk load), so ingest and the CLI timed out on it.
    app.state.read_live = read_live = partial(session_scope, factory, read_only=True)
    app.state.authenticator = authenticator = Authenticator(settings, open_session)
    authenticator.required()  # knows at once whether keys are in use, even if the store goes
    app.state.writes = WriteCounter()
    purger = ErasurePurger(settings, factory, every=settings.model_poll_seconds)
    app.state.erasure_purger = purger
    purger.start()
    margin = timedelta(seconds=settings.live_margin_seconds)
    # Item writes extract keywords with jieba, whose dictionary takes seconds to load: it is
    # loaded before the first request, beside the model; /readyz reports it if that failed.
    keywords_loaded = asyncio.to_thread(_load_keyword_extractor)
    holder = ModelHolder(
        settings.model_dir,
        _active_version_reader(factory),
        live_state=partial(_live_state, open_session=read_live, margin=margin),
    )
    app.state.model_holder = holder
    app.state.readiness_checks.append(lambda: ("model", holder.current is not None))
    loaded, _ = await asyncio.gather(keywords_loaded, asyncio.to_thread(holder.refresh))
    app.state.readiness_checks.insert(1, lambda: ("keywords", loaded))
    _report_model(metrics, holder)
    pollers = [
        asyncio.create_task(_poll_model(holder, settings.model_poll_seconds, metrics)),
        asyncio.create_task(_poll_live(holder, read_live, settings.live_poll_seconds)),
    ]
    log.info(
        "started",
        extra={
            "database": engine.url.render_as_string(hide_password=True),
            "model": holder.version,
        },
    )
    try:
        yield
    finally:
        for poller in pollers:
            poller.cancel()
        await asyncio.to_thread(purger.close)
        engine.dispose()
        process_exiting()


def _load_keyword_extractor() -> bool:
    try:
        load_keyword_extractor()
    except Exception:  # /readyz stays 503 naming "keywords"; the log says why
        log.exception("the keyword extractor (jieba) did not load")
        return False
    return True


def _active_version_reader(factory: SessionFactory) -> Callable[[], ActiveVersion | None]:
    def read() -> ActiveVersion | None:
        with session_scope(factory, read_only=True) as session:
            row = active_model_version(session)
            return None if row is None else (row.version, row.path)

    return read


def _live_state(
    model: TrainedModel, *, open_session: SessionOpener, margin: timedelta
) -> LiveState:
    """A new model's live state, filled before the model is swapped in. If the store cannot be
    read now, the model still serves (marked stale) and the poller fills it later."""
    live = LiveState(model, margin=margin)
    try:
        live.poll(open_session)
    except Exception as exc:
        live.last_error = f"{exc.__class__.__name__}: {exc}"
        log.warning("live state of model %s not read yet: %s", model.version, live.last_error)
    return live


async def _poll_live(holder: ModelHolder, open_session: SessionOpener, every: float) -> None:
    """Advance the serving model's live state by watermark; failures mark it stale."""
    while True:
        await asyncio.sleep(every)
        serving = holder.serving
        if serving is None:
            continue
        try:
            await asyncio.to_thread(serving.live.poll, open_session)
        except Exception as exc:  # store outage: answers come from memory, marked stale
            serving.live.last_error = f"{exc.__class__.__name__}: {exc}"


def _report_model(metrics: ServiceMetrics, holder: ModelHolder) -> None:
    model = holder.current
    metrics.model_served(holder.version, None if model is None else model.created_at)


async def _poll_model(holder: ModelHolder, every: float, metrics: ServiceMetrics) -> None:
    """Every replica follows the store's active version; loading happens off the event loop.
    (An activation through this process swaps at once; the metrics follow at the next tick.)"""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(holder.refresh)
            _report_model(metrics, holder)
        except Exception:  # never let the poller die: the next tick tries again
            log.exception("model poll failed")


def accepted_event_types(settings: Settings) -> frozenset[str]:
    """The event types ingest accepts: weighted in the model configuration, or listed."""
    weighted = load_model_config(settings).events.weights
    return frozenset(weighted) | frozenset(settings.extra_event_types)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    hidden = settings.protect_operations  # then /docs and /openapi.json need a key
    app = FastAPI(
        title="tagmatch",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # /docs and /redoc come from install_offline_docs: no CDN
        redoc_url=None,
        openapi_url=None if hidden else "/openapi.json",
    )
    app.state.settings = settings
    app.state.event_types = accepted_event_types(settings)
    app.state.readiness_checks = []
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics = ServiceMetrics(app.state.metrics_registry)

    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        timestamp_window=(settings.timestamp_min, settings.timestamp_max),
    )
    # Added last, so it is the outermost user middleware: it sees every response, CORS included.
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(app.state.metrics_registry))

    install_openapi(app)
    # The per-page-view routes first: Starlette tries routes in order, and every route tried
    # before the match costs a regex.
    app.include_router(recommendations.router)
    app.include_router(audiences.router)
    app.include_router(health.router)
    for module in (
        users,
        items,
        events,
        profiles,
        push_lists,
        segments,
        models,
        keys,
    ):
        app.include_router(module.router)
    # TAGMATCH_PROTECT_OPERATIONS: the document and the pages showing it need a valid key.
    any_key = [require_scope(ANY_SCOPE)] if settings.protect_operations else []
    if settings.protect_operations:
        _protected_openapi(app, any_key)
    install_offline_docs(app, dependencies=any_key)
    install_console(app)
    return app


def _protected_openapi(app: FastAPI, dependencies: list[Any]) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=dependencies)
    def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())
