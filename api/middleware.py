"""Request id, access log and Prometheus metrics, as one pure-ASGI middleware (no per-request
task or body buffering, unlike BaseHTTPMiddleware).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id_var
from api.pseudonyms import person_ref
from api.schemas.timestamps import timestamp_window

log = logging.getLogger("tagmatch.access")

REQUEST_ID_HEADER = "X-Request-ID"
PROBLEM_JSON = "application/problem+json"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
UNMATCHED = "<unmatched>"  # one label for every unknown path, or 404 probes explode cardinality


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("route", "method", "status")
        self.requests = Counter(
            "tagmatch_http_requests", "HTTP requests", labels, registry=registry
        )
        self.latency = Histogram(
            "tagmatch_http_request_duration_seconds",
            "HTTP request latency",
            labels,
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


def _loggable_path(scope: Scope) -> str:
    """The path with a user id replaced by its pseudonym: an erased user must not live on
    in the access log."""
    path: str = scope["path"]
    user_id = scope.get("path_params", {}).get("user_id")
    if isinstance(user_id, str) and user_id:
        path = path.replace(user_id, person_ref(user_id))
    return path


def _security_headers(headers: MutableHeaders, path: str) -> None:
    """On every response: no MIME sniffing, no framing. Under /v1 (personal data, exports
    of user ids) also no caching anywhere on the way."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if path.startswith("/v1/"):
        headers["Cache-Control"] = "no-store"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        status = 500  # what the client gets when an exception escapes
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                _security_headers(headers, scope["path"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED)
            labels = (template, scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": _loggable_path(scope),
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class RequestLimitsMiddleware:
    """What must hold before any route parses a request: a body no larger than
    `max_body_bytes` (413, read no further), no control characters in the path or the query
    (422; PostgreSQL cannot even compare a NUL), and the timestamp window of these settings
    published for the body validators.
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, timestamp_window: tuple[datetime, datetime]
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.window = timestamp_window

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bad = _control_character_in(scope)
        if bad is not None:
            loc, where = bad
            await _send_problem(
                scope,
                send,
                422,
                "Invalid request",
                f"control characters are not allowed in {where}",
                [{"loc": loc, "msg": "control characters are not allowed"}],
            )
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_body_bytes:
                await self._too_large(scope, send)
                return
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            # No length announced: read up to the limit here, then hand the app what was read.
            body = await self._read_bounded(receive)
            if body is None:
                await self._too_large(scope, send)
                return
            receive = _replay(body)
        with timestamp_window(*self.window):
            await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await _send_problem(
            scope,
            send,
            413,
            "Request body too large",
            f"the body exceeds {self.max_body_bytes} bytes (TAGMATCH_MAX_BODY_BYTES); "
            "send smaller batches",
            [{"loc": ["body"], "msg": f"at most {self.max_body_bytes} bytes"}],
            close=True,
        )


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def _control_character_in(scope: Scope) -> tuple[list[str | int], str] | None:
    if _CONTROL_CHARACTER.search(scope.get("path", "")):
        return ["path"], "the path"
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _CONTROL_CHARACTER.search(name) or _CONTROL_CHARACTER.search(value):
            return ["query", name], f"the query parameter {name!r}"
    return None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _send_problem(
    scope: Scope,
    send: Send,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]],
    *,
    close: bool = False,
) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "instance": scope.get("path", ""),
            "detail": detail,
            "errors": errors,
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:  # the unread body is still on the connection: do not reuse it
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
