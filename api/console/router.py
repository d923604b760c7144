"""The console's wiring: sign-in and sign-out, its static files, its error pages, and the
page routers. `install_console(app)` is all create_app calls."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import audience, overview, segments, users
from api.console.auth import (
    ConsoleSessionDep,
    CsrfRejected,
    LoginRequired,
    accepted_key_id,
    check_csrf,
    clear_session,
    new_session,
    read_session,
    safe_next,
)
from api.console.render import HERE, NO_STORE, page, redirect
from api.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

KeyField = Annotated[str, Form(max_length=1024)]
CsrfField = Annotated[str, Form(max_length=128)]
NextField = Annotated[str, Form(max_length=2048)]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    settings: Settings = request.app.state.settings
    if settings.api_key is None:  # open mode: nothing to ask
        return redirect(request, None, safe_next(next))
    session = read_session(request)
    if session is None:
        session = new_session(None)
        request.state.console_new_session = session
    return page(request, session, "login.html", {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, api_key: KeyField, csrf_token: CsrfField, next: NextField = "/console"
) -> Response:
    session = read_session(request)
    if session is None:
        raise CsrfRejected()
    check_csrf(session, csrf_token)
    key_id = accepted_key_id(request, api_key)
    if key_id is None:
        context = {"next": safe_next(next), "failed": True}
        return page(request, session, "login.html", context, status_code=401)
    request.state.console_new_session = new_session(key_id)  # a fresh CSRF token too
    return redirect(request, None, safe_next(next))


@router.post("/logout")
def logout(request: Request, session: ConsoleSessionDep, csrf_token: CsrfField) -> Response:
    check_csrf(session, csrf_token)
    response = RedirectResponse("/console/login", status_code=303, headers=NO_STORE)
    clear_session(response)
    return response


def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = f"/console/login?next={quote(exc.next_path, safe='/')}"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return page(
        request, read_session(request), "error.html", {"message_key": "csrf"}, status_code=403
    )


def install_console(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.include_router(router)
    for module in (overview, segments, audience, users):
        app.include_router(module.router)
