"""Validation at the edge matches what the store and the pipeline can hold (issue 13).

Each bad request is a batch whose other records are valid, answered 4xx problem+json naming
the field, and leaves every table as it was; the same batch with the one field repaired is
then written, which shows the request did reach the handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from store_dump import row_counts

from api.app import create_app
from api.settings import Settings

PROBLEM = "application/problem+json"
BODY_LIMIT = 8 * 1024
JSON_HEADERS = {"content-type": "application/json"}


@pytest.fixture
def edge_client(migrated_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=migrated_url, model_dir=tmp_path / "models", max_body_bytes=BODY_LIMIT
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _event(i: int, **override: Any) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "user_id": f"u{i}",
        "item_id": f"i{i}",
        "type": "view",
        "ts": "2024-05-01T12:00:00+08:00",
    } | override


def _refused_then_repaired(
    client: TestClient, path: str, field: str, bad: dict[str, Any], good: dict[str, Any]
) -> dict[str, Any]:
    """Send [valid, bad, valid] under `field`: 422 and nothing written. Then [valid, good,
    valid]: written. Returns the 422 problem."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = row_counts(engine)
    batch = [dict(good, id=f"{good['id']}-a"), bad, dict(good, id=f"{good['id']}-b")]
    method = "POST" if field == "events" else "PUT"
    # json.dumps escapes to ASCII (\\ud800 as text), so a lone surrogate can be sent at all.
    sent = json.dumps({field: batch})
    response = client.request(method, path, content=sent, headers=JSON_HEADERS)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert row_counts(engine) == before
    batch[1] = good
    repaired = client.request(method, path, json={field: batch})
    assert repaired.status_code == 200, repaired.text
    assert row_counts(engine) != before
    problem: dict[str, Any] = response.json()
    return problem


def _locs(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem["errors"]]


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        ({"attributes": {"age": 10**400}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"age": 2**53 + 1}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"bio": "x" * 1001}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"bio": "a\x00b"}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"bio": "\udfff"}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"x": float("nan")}}, ["body", "users", 1, "attributes"]),
        ({"attributes": {"a\x00": 1}}, ["body", "users", 1, "attributes", "a\x00", "[key]"]),
        ({"tags": {"kw:x": 1e300}}, ["body", "users", 1, "tags", "kw:x"]),
        ({"tags": ["kw:\x00"]}, ["body", "users", 1, "tags", "kw:\x00", "[key]"]),
        ({"id": "acme/42"}, ["body", "users", 1, "id"]),
        ({"id": "a\x00b"}, ["body", "users", 1, "id"]),
        ({"id": ".."}, ["body", "users", 1, "id"]),
        ({"id": "x" * 129}, ["body", "users", 1, "id"]),
    ],
)
def test_bad_user_field_is_422_and_writes_nothing(
    edge_client: TestClient, bad: dict[str, Any], loc: list[Any]
) -> None:
    good = {"id": "ok", "attributes": {"age": 31, "bio": "runs"}, "tags": {"kw:x": 1.0}}
    problem = _refused_then_repaired(edge_client, "/v1/users", "users", good | bad, good)
    assert any(found[: len(loc)] == loc for found in _locs(problem)), problem


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        ({"title": "x" * 1001}, ["body", "items", 1, "title"]),
        ({"title": "line\x00"}, ["body", "items", 1, "title"]),
        ({"text": "half \ud800 a surrogate"}, ["body", "items", 1, "text"]),
        ({"category": "c\x1b"}, ["body", "items", 1, "category"]),
        ({"published_at": "0001-01-01T00:00:00+01:00"}, ["body", "items", 1, "published_at"]),
        ({"expires_at": "9999-12-31T23:59:59-01:00"}, ["body", "items", 1, "expires_at"]),
    ],
)
def test_bad_item_field_is_422_and_writes_nothing(
    edge_client: TestClient, bad: dict[str, Any], loc: list[Any]
) -> None:
    good = {"id": "ok", "title": "Yoga", "text": "line one\nline\ttwo", "category": "sports"}
    problem = _refused_then_repaired(edge_client, "/v1/items", "items", good | bad, good)
    assert loc in _locs(problem), problem


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        ({"ts": "0001-01-01T00:00:00+01:00"}, ["body", "events", 1, "ts"]),
        ({"ts": "9999-12-31T23:59:59-01:00"}, ["body", "events", 1, "ts"]),
        ({"ts": "1969-12-31T23:59:59Z"}, ["body", "events", 1, "ts"]),
        ({"value": 1e300}, ["body", "events", 1, "value"]),
        ({"user_id": "u\x00"}, ["body", "events", 1, "user_id"]),
        ({"item_id": "a/b"}, ["body", "events", 1, "item_id"]),
    ],
)
def test_bad_event_field_is_422_and_writes_nothing(
    edge_client: TestClient, bad: dict[str, Any], loc: list[Any]
) -> None:
    problem = _refused_then_repaired(
        edge_client, "/v1/events", "events", _event(1) | bad, _event(1)
    )
    assert loc in _locs(problem), problem


def test_timestamp_window_is_a_setting(migrated_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    settings = Settings(
        database_url=migrated_url,
        model_dir=tmp_path / "models",
        timestamp_min=datetime(2020, 1, 1, tzinfo=UTC),
    )
    with TestClient(create_app(settings)) as client:
        old = client.post("/v1/events", json={"events": [_event(1, ts="2019-06-01T00:00:00Z")]})
        assert old.status_code == 422 and "2020-01-01" in old.json()["errors"][0]["msg"]
        assert client.post("/v1/events", json={"events": [_event(1)]}).status_code == 200


def test_control_characters_in_path_or_query_are_422(edge_client: TestClient) -> None:
    assert edge_client.put("/v1/users", json={"users": [{"id": "u1"}]}).status_code == 200
    engine = edge_client.app.state.engine  # type: ignore[attr-defined]
    before = row_counts(engine)
    for method, url, loc in [
        ("GET", "/v1/users/u1%00", ["path"]),
        ("DELETE", "/v1/users/u1%00", ["path"]),
        ("GET", "/v1/items/i%01", ["path"]),
        ("GET", "/v1/users/u1/recommendations?tag=kw%00x", ["query", "tag"]),
        ("PUT", "/v1/segments/s%00", ["path"]),
    ]:
        response = edge_client.request(method, url, json={"rule": "life = 'new'"})
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["loc"] == loc
    assert row_counts(engine) == before
    assert edge_client.get("/v1/users/u1").status_code == 200


def test_ids_round_trip_through_urls(edge_client: TestClient) -> None:
    """Every id the API accepts can be read and erased by its URL (percent-encoded)."""
    from urllib.parse import quote

    ids = ["acme:42", "a b", "100%", "ü?#&=+", "汉字", "a.b", "..."]
    assert edge_client.put("/v1/users", json={"users": [{"id": i} for i in ids]}).status_code == 200
    for user_id in ids:
        url = f"/v1/users/{quote(user_id, safe='')}"
        assert edge_client.get(url).json()["id"] == user_id
        assert edge_client.delete(url).status_code == 204


def test_body_over_the_limit_is_413_before_parsing(edge_client: TestClient) -> None:
    engine = edge_client.app.state.engine  # type: ignore[attr-defined]
    before = row_counts(engine)
    users = [{"id": f"big{i}", "attributes": {"bio": "x" * 900}} for i in range(10)]
    response = edge_client.put("/v1/users", json={"users": users})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == ["body"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"users": ['
        for i in range(10):
            yield (b"," if i else b"") + f'{{"id": "big{i}", "tags": ["{"x" * 900}"]}}'.encode()
        yield b"]}"

    streamed = edge_client.put(
        "/v1/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert row_counts(engine) == before
    small = edge_client.put("/v1/users", json={"users": users[:5]})
    assert small.status_code == 200 and row_counts(engine) != before


def test_streamed_body_under_the_limit_is_read_whole(edge_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"users": [{"id": "s1"},'
        yield b' {"id": "s2"}]}'

    response = edge_client.put(
        "/v1/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.json() == {"upserted": 2}


def test_deeply_nested_rule_is_422_naming_the_rule(edge_client: TestClient) -> None:
    engine = edge_client.app.state.engine  # type: ignore[attr-defined]
    before = row_counts(engine)
    rule = "not " * 500 + "life = 'silent'"
    response = edge_client.put("/v1/segments/deep", json={"rule": rule})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    error = response.json()["errors"][0]
    assert error["loc"] == ["body", "rule"] and "nests deeper" in error["msg"]
    assert row_counts(engine) == before
    shallow = edge_client.put("/v1/segments/deep", json={"rule": "not " * 20 + "life = 'silent'"})
    assert shallow.status_code == 200 and row_counts(engine) != before
