"""Every error as application/problem+json (RFC 9457), naming the offending field.

Routes raise ProblemError; framework errors (404, 405, validation) and unexpected exceptions
are translated here. A 500 never carries a traceback; the log line has it, with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import PROBLEM_JSON, REQUEST_ID_HEADER
from api.middleware import _loggable_path as loggable_path

log = logging.getLogger("tagmatch.errors")


class ProblemError(Exception):
    """Raise from a route to answer with a problem; `errors` is [{"loc": [...], "msg": ...}]."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors is not None else None
        self.type = type
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(
    request: Request,
    status: int,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    *,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type,
        "title": title or _phrase(status),
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = [dict(e) for e in errors]
    body.update(extra or {})
    response_headers = dict(headers or {})
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        response_headers.setdefault(REQUEST_ID_HEADER, request_id)
    return JSONResponse(body, status_code=status, headers=response_headers, media_type=PROBLEM_JSON)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as [{loc, msg}]; loc is the path to the field, e.g. body.events.3.ts."""
    return [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))} for error in raw]


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        exc.title,
        exc.detail,
        exc.errors,
        type=exc.type,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"no resource at {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(request, exc.status_code, phrase, detail, headers=exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    first = errors[0] if errors else None
    detail = (
        f"{len(errors)} invalid field(s); first: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        if first
        else "the request is invalid"
    )
    return problem_response(request, 422, "Invalid request", detail, errors)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.error(
        "unhandled error on %s %s",
        request.method,
        loggable_path(request.scope),
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"request_id": request_id},
    )
    detail = "an unexpected error occurred" + (f"; request id {request_id}" if request_id else "")
    return problem_response(request, 500, "Internal Server Error", detail)


async def _store_down(request: Request, exc: Exception) -> JSONResponse:
    """The database is unreachable, stalled or refused the connection: a retryable 503, not
    a 500. The transaction was rolled back, so nothing was half-written."""
    log.warning("store unavailable on %s %s: %s", request.method, loggable_path(request.scope), exc)
    if _is_busy(exc):
        return _store_busy(request, "the database is busy with other writes")
    return problem_response(
        request,
        503,
        "Store unavailable",
        "the database cannot be reached or did not answer in time; nothing was written, "
        "retry later",
        headers={"Retry-After": "5"},
    )


def _is_busy(exc: Exception) -> bool:
    """SQLite's lock wait (busy_timeout) ran out: the store is up, just contended."""
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database table is locked" in message


def _store_busy(request: Request, why: str) -> JSONResponse:
    return problem_response(
        request,
        503,
        "Store busy",
        f"{why}; nothing was written, retry shortly",
        headers={"Retry-After": "1"},
    )


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    log.warning("no free store connection on %s %s", request.method, loggable_path(request.scope))
    return _store_busy(request, "every database connection is in use")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(OperationalError, _store_down)
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
