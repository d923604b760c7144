"""Console sign-in: an API key exchanged for a signed session cookie, and CSRF tokens.

The cookie is HttpOnly and SameSite=Strict, signed with itsdangerous and holding no key, only
which key signed in and the session's CSRF token. It is signed with a secret derived from the
service's API key, so rotating the key ends every console session. In open mode (no
TAGMATCH_API_KEY, the API needs no key either) the console is open too, but every visitor
still gets a session, because the CSRF token lives in it.

Every form carries the session's CSRF token (field `csrf_token`; script calls send it as
`X-CSRF-Token`); a state-changing request whose token does not match is refused with 403.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.settings import Settings

SESSION_COOKIE = "tagmatch_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE = 8 * 3600  # a working day; then the key is asked for again
OPEN_MODE = "open"  # the key id of a session in open mode
# Open mode has no key and nothing to authenticate: every visitor is let in. The cookie then
# only carries the CSRF token, whose strength is its randomness (a cross-site page can neither
# read nor set a SameSite=Strict cookie of ours), so a fixed signing secret is enough, and
# every worker and replica accepts every other's sessions.
_OPEN_MODE_SECRET = "tagmatch-console-open-mode"


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in session; answered with a redirect to login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class ConsoleSession:
    key_id: str | None  # None: not signed in (a login form's session)
    csrf_token: str

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None


def _secret(settings: Settings) -> str | None:
    """What signs session cookies: TAGMATCH_CONSOLE_SECRET, else TAGMATCH_API_KEY."""
    for configured in (settings.console_secret, settings.api_key):
        if configured is not None:
            return configured.get_secret_value()
    return None


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    secret = _secret(settings) or _OPEN_MODE_SECRET
    return URLSafeTimedSerializer(secret, salt="tagmatch-console-session")


CONSOLE_SCOPES = frozenset({"marketing", "admin"})


def accepted_key_id(request: Request, given: str) -> str | None:
    """The id of the key `given` when it may use the console (a key with the marketing or
    admin scope), else None. With keys stored but no secret to sign sessions with, nobody:
    a cookie signed with a public constant could be forged."""
    authenticator = request.app.state.authenticator
    settings: Settings = request.app.state.settings
    if not authenticator.required():
        return OPEN_MODE
    if _secret(settings) is None:
        return None
    principal = authenticator.principal(given)
    if principal is None or not CONSOLE_SCOPES & set(principal.scopes):
        return None
    return str(principal.key_id)


def read_session(request: Request) -> ConsoleSession | None:
    settings: Settings = request.app.state.settings
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:  # also expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    key_id = data.get("k")
    return ConsoleSession(key_id if isinstance(key_id, str) else None, data["c"])


def new_session(key_id: str | None) -> ConsoleSession:
    return ConsoleSession(key_id, secrets.token_urlsafe(32))


def write_session(request: Request, response: Response, session: ConsoleSession) -> None:
    settings: Settings = request.app.state.settings
    value = _serializer(settings).dumps({"k": session.key_id, "c": session.csrf_token})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="strict")


def signed_in_session(request: Request) -> ConsoleSession:
    """The page's session; LoginRequired when there is none (open mode issues one at once)."""
    session = read_session(request)
    if session is not None and session.signed_in:
        return session
    if not request.app.state.authenticator.required():
        session = new_session(OPEN_MODE)
        request.state.console_new_session = session  # written by the page renderer
        return session
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


ConsoleSessionDep = Annotated[ConsoleSession, Depends(signed_in_session)]


def check_csrf(session: ConsoleSession, token: str | None) -> None:
    if token is None or not secrets.compare_digest(token.encode(), session.csrf_token.encode()):
        raise CsrfRejected()


def safe_next(path: str | None) -> str:
    """Where to go after login: only a console path of this site (no open redirect)."""
    if path and path.startswith("/console") and not path.startswith("//") and "\\" not in path:
        return path
    return "/console"
