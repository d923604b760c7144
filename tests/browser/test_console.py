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


def test_an_invalid_rule_shows_where_it_breaks(page: Page) -> None:
    login(page)
    page.goto("/console/segments")
    page.fill("#rule", "life = 'silent' and tag('kw:瑜伽') >=")
    status = page.locator("#rule-status.error")
    status.wait_for()
    assert "column 36" in status.inner_text()  # where the parser stopped
    # The rule is shown up to the error, the place itself marked.
    page.locator("#rule-caret mark").wait_for()
    shown = page.locator("#rule-caret").inner_text()
    assert shown.startswith("life = 'silent' and tag('kw:瑜伽') >=")
    shot(page, "invalid-rule")
    # Saving it anyway is refused with the reason, and nothing is stored.
    page.fill("#name", "broken")
    page.click("#save")
    page.locator("#save-error").wait_for()
    page.goto("/console/segments")
    assert "broken" not in page.locator("#segment-list").inner_text()


def test_main_flow_segment_report_audience_push_list_csv(page: Page) -> None:
    login(page)
    page.wait_for_url(re.compile(r"/console$"))

    # Build a segment: the live size appears while typing, then save it.
    page.goto("/console/segments?lang=zh")
    assert "人群圈选" in page.locator("h1").inner_text()
    page.goto("/console/segments?lang=en")
    page.fill("#name", "yoga-fans")
    page.fill("#rule", "tag('kw:瑜伽') > 0 or tag('kw:yoga') > 0")
    status = page.locator("#rule-status.ok")
    status.wait_for()
    live = int(re.search(r"(\d+) users match", status.inner_text()).group(1))  # type: ignore[union-attr]
    assert 0 < live < 200
    shot(page, "segment-builder")
    page.click("#save")

    # Its report: the same size, attribute and lifecycle bars, tags by lift.
    page.wait_for_url(re.compile(r"/console/segments/yoga-fans$"))
    assert page.locator("#report-size b").inner_text() == str(live)
    assert page.locator("#attributes svg.bars rect").count() >= 4
    assert page.locator("#lifecycle svg.bars rect").count() == 8  # 4 stages, segment and all
    assert page.locator("#tags tbody tr").count() >= 1
    shot(page, "persona-report")
