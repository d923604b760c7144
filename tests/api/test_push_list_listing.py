"""GET /v1/push-lists: saved lists newest first, paged by an opaque cursor that stays stable
while new lists are created; a cursor the API did not hand out is a 422 naming `cursor`."""

from __future__ import annotations

from fastapi.testclient import TestClient
from trained_world import World, assert_problem


def create(client: TestClient, item_id: str, size: int) -> str:
    response = client.post("/v1/push-lists", json={"item_id": item_id, "size": size})
    assert response.status_code == 201, response.text
    list_id: str = response.json()["id"]
    return list_id


def all_pages(client: TestClient, limit: int) -> list[dict[str, object]]:
    found, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get("/v1/push-lists", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["push_lists"]) <= limit
        found.extend(body["push_lists"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_lists_are_paged_newest_first_without_members(served: TestClient, world: World) -> None:
    items = [item.id for item in world.catalogue.items[:3]]
    created = [create(served, item, size=5 + i) for i, item in enumerate(items)]
    listed = all_pages(served, limit=2)
    ids = [entry["id"] for entry in listed]
    assert len(ids) == len(set(ids))  # no list twice across pages
    assert [i for i in ids if i in created] == created[::-1]
    stamps = [entry["created_at"] for entry in listed]
    assert stamps == sorted(stamps, reverse=True)
    mine = {entry["id"]: entry for entry in listed if entry["id"] in created}
    assert mine[created[0]]["item_id"] == items[0] and mine[created[0]]["size"] == 5
    assert "users" not in mine[created[0]]


def test_a_page_stays_stable_while_lists_are_created(served: TestClient, world: World) -> None:
    item = world.catalogue.items[5].id
    create(served, item, size=3)
    create(served, item, size=3)
    first = served.get("/v1/push-lists", params={"limit": 1}).json()
    newer = create(served, item, size=3)  # lands before the first page: never on the next
    second = served.get(
        "/v1/push-lists", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert second["push_lists"][0]["id"] not in (newer, first["push_lists"][0]["id"])
    assert second["push_lists"][0]["created_at"] <= first["push_lists"][0]["created_at"]


def test_a_foreign_cursor_is_refused_naming_it(served: TestClient) -> None:
    for cursor in ("not-a-cursor", "bm8gc2VwYXJhdG9y", "MjAyNi0wMS0wMXxhYmM"):
        body = assert_problem(served.get("/v1/push-lists", params={"cursor": cursor}), 422)
        assert body["errors"][0]["loc"] == ["query", "cursor"]
    assert_problem(served.get("/v1/push-lists", params={"limit": 0}), 422)
