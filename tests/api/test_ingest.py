"""The ingest contract of DESIGN.md through HTTP, on SQLite and PostgreSQL.

The client fixture's settings allow batches of at most 50 records.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

PROBLEM = "application/problem+json"


def _event(i: int, **override: Any) -> dict[str, Any]:
    event = {
        "id": f"e{i}",
        "user_id": f"u{i % 3}",
        "item_id": f"i{i % 4}",
        "type": "view",
        "ts": "2024-05-01T12:00:00+08:00",
    }
    return event | override


def _user_count(client: TestClient, ids: list[str]) -> int:
    return sum(client.get(f"/v1/users/{user_id}").status_code == 200 for user_id in ids)


def test_events_resend_is_idempotent(client: TestClient) -> None:
    batch = {"events": [_event(i) for i in range(5)]}
    first = client.post("/v1/events", json=batch)
    assert first.status_code == 200 and first.json() == {"accepted": 5, "duplicates": 0}
    again = client.post("/v1/events", json={"events": [*batch["events"], _event(5)]})
    assert again.json() == {"accepted": 1, "duplicates": 5}
    inside = client.post("/v1/events", json={"events": [_event(9), _event(9)]})
    assert inside.json() == {"accepted": 1, "duplicates": 1}


def test_unknown_users_and_items_are_created(client: TestClient) -> None:
    client.post("/v1/events", json={"events": [_event(1, user_id="新用户", item_id="新文章")]})
    assert client.get("/v1/users/新用户").json()["tags"] == {}
    assert client.get("/v1/items/新文章").status_code == 200


def test_one_bad_record_rejects_the_whole_batch(client: TestClient) -> None:
    events = [_event(i, user_id=f"atomic{i}") for i in range(6)]
    events[3]["ts"] = "yesterday"
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert ["body", "events", 3, "ts"] in [e["loc"] for e in response.json()["errors"]]
    assert _user_count(client, [f"atomic{i}" for i in range(6)]) == 0

    users = [{"id": f"a{i}"} for i in range(5)]
    users[2]["tags"] = {"kw:x": -1}
    response = client.put("/v1/users", json={"users": users})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "users", 2, "tags", "kw:x"]
    assert _user_count(client, [f"a{i}" for i in range(5)]) == 0


def test_naive_timestamp_is_rejected_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/v1/events", json={"events": [_event(0), _event(1, ts="2024-05-01T12:00:00")]}
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["loc"] == ["body", "events", 1, "ts"] and "timezone" in errors[0]["msg"]

    item = {"id": "i", "published_at": "2024-05-01 12:00"}
    response = client.put("/v1/items", json={"items": [item]})
    assert response.json()["errors"][0]["loc"] == ["body", "items", 0, "published_at"]


def test_wrong_types_name_the_field(client: TestClient) -> None:
    cases = [
        ("/v1/events", "put", None, None),
        (
            "/v1/events",
            "post",
            {"events": [_event(0, value="lots")]},
            ["body", "events", 0, "value"],
        ),
        (
            "/v1/events",
            "post",
            {"events": [_event(0, type="has space")]},
            ["body", "events", 0, "type"],
        ),
        (
            "/v1/events",
            "post",
            {"events": [_event(0, user_id="")]},
            ["body", "events", 0, "user_id"],
        ),
        ("/v1/events", "post", {"events": [_event(0, id="x" * 129)]}, ["body", "events", 0, "id"]),
        ("/v1/events", "post", {"events": "nope"}, ["body", "events"]),
        (
            "/v1/users",
            "put",
            {"users": [{"id": "u", "consent": {"push": "maybe"}}]},
            ["body", "users", 0, "consent", "push"],
        ),
        (
            "/v1/users",
            "put",
            {"users": [{"id": "u", "tags": [1, 2]}]},
            ["body", "users", 0, "tags"],
        ),
        (
            "/v1/users",
            "put",
            {"users": [{"id": "u", "colour": "red"}]},
            ["body", "users", 0, "colour"],
        ),
        ("/v1/items", "put", {"items": [{"id": 7}]}, ["body", "items", 0, "id"]),
    ]
    for path, method, body, loc in cases:
        response = client.request(method.upper(), path, json=body)
        if loc is None:
            assert response.status_code == 405
            continue
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert loc in [e["loc"] for e in response.json()["errors"]], (loc, response.json())


def test_invalid_json_is_a_422_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/events", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_oversize_batch_is_413_and_writes_nothing(client: TestClient) -> None:
    events = [_event(i, user_id=f"big{i}") for i in range(51)]
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 413 and body["errors"][0]["loc"] == ["body", "events"]
    assert _user_count(client, ["big0", "big50"]) == 0
    users = client.put("/v1/users", json={"users": [{"id": f"u{i}"} for i in range(51)]})
    assert users.status_code == 413
    assert client.put("/v1/users", json={"users": [{"id": f"u{i}"} for i in range(50)]}).json() == {
        "upserted": 50
    }


def test_user_upsert_semantics(client: TestClient) -> None:
    first = {
        "id": "u1",
        "attributes": {"age": 31, "region": "上海", "vip": True},
        "tags": ["kw:瑜伽", "kw:跑步"],
        "consent": {"push": True},
    }
    assert client.put("/v1/users", json={"users": [first]}).json() == {"upserted": 1}
    user = client.get("/v1/users/u1").json()
    assert user["tags"] == {"kw:瑜伽": 1.0, "kw:跑步": 1.0}
    assert user["attributes"] == {"age": 31, "region": "上海", "vip": True}
    assert user["consent"] == {"push": True}

    # only tags sent: attributes and consent keep their values
    client.put("/v1/users", json={"users": [{"id": "u1", "tags": {"kw:瑜伽": 0.25}}]})
    user = client.get("/v1/users/u1").json()
    assert user["tags"] == {"kw:瑜伽": 0.25} and user["consent"] == {"push": True}
    assert user["attributes"]["region"] == "上海"

    # the same id twice: later fields win
    twice = [{"id": "u2", "tags": ["a"]}, {"id": "u2", "tags": ["b"], "consent": {"push": True}}]
    assert client.put("/v1/users", json={"users": twice}).json() == {"upserted": 1}
    assert client.get("/v1/users/u2").json()["tags"] == {"b": 1.0}


def test_item_upsert_get_with_keywords_and_delete(client: TestClient) -> None:
    item = {
        "id": "文章-1",
        "title": "瑜伽入门教程",
        "text": "每天十分钟瑜伽，放松身体。Yoga for beginners.",
        "tags": {"cat:运动": 1.0},
        "category": "sports",
        "published_at": "2024-05-01T08:00:00Z",
        "expires_at": "2030-01-01T00:00:00+08:00",
    }
    assert client.put("/v1/items", json={"items": [item]}).json() == {"upserted": 1}
    got = client.get("/v1/items/文章-1").json()
    assert got["tags"] == {"cat:运动": 1.0} and got["category"] == "sports"
    assert got["expires_at"] == "2029-12-31T16:00:00Z"
    keywords = [k["keyword"] for k in got["keywords"]]
    assert "瑜伽" in keywords and got["keywords"][0]["weight"] == 1.0

    assert client.delete("/v1/items/文章-1").status_code == 204
    gone = client.get("/v1/items/文章-1")
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM
    assert client.delete("/v1/items/文章-1").status_code == 404


def test_erasure_removes_user_and_events(client: TestClient) -> None:
    client.put("/v1/users", json={"users": [{"id": "张三", "attributes": {"gender": "m"}}]})
    client.post("/v1/events", json={"events": [_event(1, user_id="张三"), _event(2)]})
    assert client.delete("/v1/users/张三").status_code == 204
    assert client.get("/v1/users/张三").status_code == 404
    assert client.delete("/v1/users/张三").status_code == 404
    # the erased user's event is gone: resending it stores it anew (a new user appears)
    again = client.post("/v1/events", json={"events": [_event(1, user_id="张三"), _event(2)]})
    assert again.json() == {"accepted": 1, "duplicates": 1}
    assert client.get("/v1/users/张三").json()["attributes"] == {}


def test_path_ids_are_validated(client: TestClient) -> None:
    response = client.get("/v1/users/" + "x" * 129)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "user_id"]


def test_an_unknown_event_type_is_refused_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/events", json={"events": [_event(1), _event(2, type="clik")]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "events", 1, "type"] and "'clik'" in error["msg"]
    assert _user_count(client, ["u1", "u2"]) == 0  # nothing of the batch was written


def test_a_listed_event_type_is_accepted(settings: Settings) -> None:
    listed = settings.model_copy(update={"extra_event_types": ["add_to_cart"]})
    with TestClient(create_app(listed)) as client:
        response = client.post("/v1/events", json={"events": [_event(1, type="add_to_cart")]})
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 1, "duplicates": 0}
