"""The console in a real browser: login, the main marketing flow end to end, and the
failures a marketer meets first (a wrong key, an invalid rule). Each step leaves a
screenshot in tests/browser/artifacts/."""

from __future__ import annotations

import re
from typing import Any

from browser_support import API_KEY, ARTIFACTS

Page = Any  # playwright.sync_api.Page; imported lazily so collection needs no browser


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Page, key: str = API_KEY) -> None:
    page.goto("/console")
    page.wait_for_url(re.compile(r"/console/login"))
    page.fill("#api_key", key)
    page.click("button[type=submit]")


def test_login_with_a_wrong_key_is_refused(page: Page) -> None:
    login(page, "not-the-key")
    error = page.locator("#login-error")
    error.wait_for()
    assert "not valid" in error.inner_text()
    assert "/console/login" in page.url
    shot(page, "login-failure")
    # Nothing personal was reachable: the overview still asks for a key.
    page.goto("/console")
    assert "/console/login" in page.url


def test_overview_after_login(page: Page) -> None:
    login(page)
    page.wait_for_url(re.compile(r"/console$"))
    counts = page.locator("#counts").inner_text()
    assert "200" in counts and "80" in counts  # users and items of the synthetic world
    assert page.locator("svg.lines polyline").count() >= 1
    shot(page, "overview")
    cookie = next(c for c in page.context.cookies() if c["name"] == "tagmatch_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert API_KEY not in cookie["value"]


def test_docs_render_with_nothing_from_outside(page: Page, base_url: str) -> None:
    """Every asset comes from the app; what a bundle still asks of the outside (ReDoc's
    footer logo) the page's Content-Security-Policy blocks before it leaves the browser."""
    loaded: list[str] = []
    failed: list[tuple[str, str]] = []
    page.on("response", lambda response: loaded.append(response.url))
    page.on("requestfailed", lambda request: failed.append((request.url, request.failure or "")))
    page.goto("/docs")
    page.locator(".swagger-ui .information-container").wait_for()
    assert page.locator(".opblock").count() > 10  # the operations rendered from our spec
    shot(page, "docs")
    page.goto("/redoc")
    page.locator("h1:has-text('tagmatch')").first.wait_for()
    shot(page, "redoc")
    local = (base_url, "data:", "blob:")
    assert not [url for url in loaded if not url.startswith(local)], loaded
    escaped = [(url, why) for url, why in failed if "csp" not in why.lower()]
    assert not [url for url, _ in escaped if not url.startswith(local)], failed
