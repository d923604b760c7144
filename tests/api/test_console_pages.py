"""Console pages over HTTP on the trained synthetic world (SQLite and PostgreSQL): the
figures they show are the API's (live size = the saved segment's size, reach = the size of
an unlimited push list with the same filters), and a form without the session's CSRF token
writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from trained_world import World

from api.app import create_app

RULE = "tag('kw:瑜伽') > 0 or tag('kw:yoga') > 0"


@pytest.fixture(scope="module")
def console(world: World) -> Iterator[TestClient]:
    """Open mode (no API key): the console hands out a session at the first page."""
    with TestClient(create_app(world.settings), follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def check(client: TestClient, rule: str) -> dict[str, Any]:
    response = client.get("/console/segments/check", params={"rule": rule})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def reach_on_page(client: TestClient, item_id: str, **params: Any) -> int:
    page = client.get(f"/console/audience/{item_id}", params=params)
    assert page.status_code == 200, page.text
    found = re.search(r'<b id="reach">(\d+)</b>', page.text)
    assert found, page.text
    return int(found.group(1))


def push_list_count(client: TestClient) -> int:
    return len(client.get("/v1/push-lists", params={"limit": 1000}).json()["push_lists"])


def test_live_check_gives_the_error_position_or_the_size_a_save_stores(
    console: TestClient,
) -> None:
    broken = check(console, "life = 'silent' and")
    assert broken["valid"] is False
    assert broken["error"]["line"] == 1 and broken["error"]["position"] == len(
        "life = 'silent' and"
    )
    unknown = check(console, "lifestage = 'silent'")
    assert unknown["valid"] is False and unknown["error"]["column"] == 1

    live = check(console, RULE)
    assert live["valid"] is True and 0 < live["size"] < live["total"] == 200
    form = console.get("/console/segments")
    saved = console.post(
        "/console/segments",
        data={"csrf_token": csrf_of(form.text), "name": "console-yoga", "rule": RULE},
    )
    assert (
        saved.status_code == 303 and saved.headers["location"] == "/console/segments/console-yoga"
    )
    assert console.get("/v1/segments/console-yoga").json()["size"] == live["size"]
    report = console.get("/console/segments/console-yoga", params={"min_support": 50})
    assert report.status_code == 200 and report.headers["cache-control"] == "no-store"
    tags = report.text[report.text.index('id="tags"') : report.text.index('id="items"')]
    support = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', tags)]
    assert support and min(support) >= 50  # no tag held by fewer members is ranked


def test_forms_without_the_csrf_token_write_nothing(console: TestClient, world: World) -> None:
    console.get("/console")  # a session exists; the token is not sent
    refused = console.post("/console/segments", data={"name": "forged", "rule": "life = 'new'"})
    assert refused.status_code in (403, 422)
    forged = console.post(
        "/console/segments", data={"csrf_token": "forged", "name": "forged", "rule": "life = 'new'"}
    )
    assert forged.status_code == 403
    assert console.get("/v1/segments/forged").status_code == 404

    before = push_list_count(console)
    item = world.catalogue.items[3].id
    forged = console.post(
        "/console/push-lists", data={"csrf_token": "forged", "item_id": item, "size": "5"}
    )
    assert forged.status_code == 403
    assert push_list_count(console) == before


def test_reach_is_the_size_of_an_unlimited_push_list(console: TestClient, world: World) -> None:
    item = world.catalogue.items[7].id
    uncapped = reach_on_page(console, item)
    listed = console.post("/v1/push-lists", json={"item_id": item, "size": 10_000})
    assert len(listed.json()["users"]) == uncapped > 0

    # Everyone just pushed is now capped: with a cap of one push a day, nobody is left.
    assert reach_on_page(console, item, cap_max=1, cap_hours=24) == 0
    assert reach_on_page(console, item, cap_max=2, cap_hours=24) == uncapped

    in_segment = reach_on_page(console, item, segment="life-active")
    capped = console.post(
        "/v1/push-lists",
        json={
            "item_id": item,
            "size": 10_000,
            "segment": "life-active",
            "frequency_cap": {"max": 2, "hours": 24},
        },
    )
    assert len(capped.json()["users"]) == in_segment <= uncapped


def test_push_list_form_creates_the_apis_list_and_its_csv(
    console: TestClient, world: World
) -> None:
    item = world.catalogue.items[9].id
    page = console.get(f"/console/audience/{item}")
    created = console.post(
        "/console/push-lists",
        data={
            "csrf_token": csrf_of(page.text),
            "item_id": item,
            "size": "7",
            "segment": "",
            "cap_max": "",
            "cap_hours": "",
        },
    )
    assert created.status_code == 303, created.text
    list_id = created.headers["location"].rsplit("/", 1)[1]
    stored = console.get(f"/v1/push-lists/{list_id}").json()
    assert stored["item_id"] == item and len(stored["users"]) == 7
    csv = console.get(f"/console/push-lists/{list_id}.csv")
    assert csv.status_code == 200 and csv.headers["cache-control"] == "no-store"
    assert csv.text == console.get(f"/v1/push-lists/{list_id}", params={"format": "csv"}).text


def test_user_lookup_shows_the_apis_persona_and_recommendations(
    console: TestClient, world: World
) -> None:
    user = world.warm_users()[0]
    page = console.get("/console/users", params={"id": user})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    recommended = console.get(f"/v1/users/{user}/recommendations", params={"n": 10}).json()
    shown = re.findall(r"<tr><td><code>([^<]+)</code>", page.text)
    assert shown == [entry["item_id"] for entry in recommended["items"]]
    persona = console.get(f"/v1/users/{user}/profile").json()
    for tag in persona["tags"]:
        assert f'class="tag src-{tag["source"]}">{tag["tag"]}<' in page.text
    missing = console.get("/console/users", params={"id": "no-such-user"})
    assert missing.status_code == 404 and "no-such-user" in missing.text
