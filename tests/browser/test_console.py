"""The console in a real browser: login, the main marketing flow end to end, and the
failures a marketer meets first (a wrong key, an invalid rule). Each step leaves a
screenshot in tests/browser/artifacts/."""

from __future__ import annotations

import re
from typing import Any

from browser_support import API_KEY, ARTIFACTS

Page = Any  # playwright.sync_api.Page; imported lazily so collection needs no browser


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


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
    shot(page, "docs", full_page=False)
    page.goto("/redoc")
    page.locator("h1:has-text('tagmatch')").first.wait_for()
    shot(page, "redoc", full_page=False)
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

    # Pick an item by its title (the report's top item), preview its audience in the segment.
    title = page.locator("#items tbody tr").first.locator("td").nth(1).inner_text()
    assert title
    page.click("#to-audience")
    page.fill("#q", title)
    page.click("#item-search button[type=submit]")
    page.locator("#item-results a.pick").first.click()
    page.wait_for_url(re.compile(r"/console/audience/[^?]+\?segment=yoga-fans"))
    preview = page.locator("#audience-preview tbody tr")
    assert preview.count() == 20
    assert page.locator("#audience-preview .tag").count() >= 20  # every user has reasons
    reach = int(page.locator("#reach").inner_text())
    assert 0 < reach <= live
    shot(page, "audience-preview")

    # A push list of the whole deliverable reach holds exactly that many users.
    page.fill("#push-size", "10000")
    page.click("#create-push")
    page.wait_for_url(re.compile(r"/console/push-lists/[0-9a-f]+$"))
    assert f"· {reach} " in page.locator("#created .ok").inner_text()
    assert page.locator("#push-lists tbody tr").count() >= 1
    shot(page, "push-list")

    # The CSV download: a header and one row per member.
    with page.expect_download() as waiting:
        page.click("#download-created")
    download = waiting.value
    target = ARTIFACTS / download.suggested_filename
    download.save_as(target)
    rows = target.read_text("utf-8").strip().splitlines()
    assert rows[0] == "list_id,user_id,score"  # desensitised by default: what a push needs
    assert len(rows) == reach + 1


def test_user_lookup_shows_tag_sources_and_recommendations(page: Page) -> None:
    login(page)
    page.goto("/console/users?lang=zh")
    page.fill("#user-id", "user-000001")
    page.click("#user-form button[type=submit]")
    page.locator("#persona").wait_for()
    for source in ("declared", "behavioural", "system"):
        assert page.locator(f".tags-{source} .tag").count() >= 1, source
    assert page.locator("#recommendations tbody tr").count() == 10
    assert "推荐内容" in page.locator("#recommendations h2").inner_text()
    shot(page, "user-lookup")
