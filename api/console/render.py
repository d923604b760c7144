"""Rendering a console page: the template, the words of the reader's language, the session's
CSRF token, and headers that keep personal pages out of every cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.console.auth import CSRF_FIELD, ConsoleSession, write_session
from api.console.i18n import LANG_COOKIE, language_of, translator

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# Personal data (segments, users, push lists) must not stay in a browser's or proxy's cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Pages load only the console's own script and stylesheet; no inline code, no framing.
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _number(value: Any, digits: int = 3) -> str:
    """Figures as a reader wants them: no 16-digit floats."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.{digits}f}" if abs(value) >= 10 ** (-digits) else f"{value:.1e}"
    return str(value)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


templates.env.filters["num"] = _number
templates.env.filters["pct"] = _percent


def page(
    request: Request,
    session: ConsoleSession | None,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    lang = language_of(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(lang),
            "lang": lang,
            "session": session,
            "csrf_field": CSRF_FIELD,
            "csrf_token": session.csrf_token if session is not None else "",
            "path": request.url.path,
            **(context or {}),
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )
    finish(request, response)
    return response


def finish(request: Request, response: Any) -> None:
    """Write a session issued during this request and remember a language chosen by ?lang=."""
    issued = getattr(request.state, "console_new_session", None)
    if issued is not None:
        write_session(request, response, issued)
    chosen = request.query_params.get("lang")
    if chosen in ("en", "zh") and chosen != request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, chosen, path="/console", samesite="strict")


def redirect(request: Request, session: ConsoleSession | None, to: str) -> RedirectResponse:
    """303 after a form post, so reloading the result page does not post again."""
    response = RedirectResponse(to, status_code=303, headers=NO_STORE)
    finish(request, response)
    return response
