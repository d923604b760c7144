"""Schemathesis over openapi/openapi.json against the app on a trained store: no answer is a
5xx, every 4xx is problem+json. A few cases per operation keep it fast; `make fuzz` runs
bench/fuzz.py (the same fuzz()) with many more and records its counts in BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr
from trained_world import World, assert_problem

from api.app import create_app
from bench.fuzz import TRAINING, fuzz

KEY = "fuzz-test-key-0123456789"


@pytest.fixture(scope="module")
def keyed(world: World) -> Iterator[TestClient]:
    """The app over the module's trained world, with an API key (sent with every case)."""
    settings = world.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_fuzzed_requests_get_no_server_error_and_problem_4xx(keyed: TestClient) -> None:
    tally = fuzz(keyed, KEY, examples=3, skip=frozenset({TRAINING}))
    assert len(tally.by_operation) >= 30  # every operation but training was reached
    assert tally.by_class["2xx"] > 0 and tally.by_class["4xx"] > 0
    assert tally.server_errors == []
    assert tally.not_problem_4xx == []


def test_audit_page_cursor_beyond_a_row_id_is_refused(keyed: TestClient) -> None:
    """Found by the fuzz: `before` past 64 bits overflowed the SQLite driver (500)."""
    headers = {"X-API-Key": KEY}
    body = assert_problem(keyed.get("/v1/audit", params={"before": 2**63}, headers=headers), 422)
    assert body["errors"][0]["loc"] == ["query", "before"]
    assert keyed.get("/v1/audit", params={"before": 2**63 - 1}, headers=headers).status_code == 200


def test_fuzz_reports_server_errors_and_plain_4xx() -> None:
    """The tally catches what it must: an app answering 500, and 4xx that are not problems."""
    broken = FastAPI()

    @broken.api_route("/{path:path}", methods=["GET", "PUT", "POST", "DELETE"])
    def fail(path: str) -> Response:
        status = 500 if path.startswith("v1/users") else 404
        return Response("oops", status_code=status, media_type="text/plain")

    with TestClient(broken) as client:
        tally = fuzz(client, KEY, examples=1)
    assert tally.by_class["5xx"] == len(tally.server_errors) > 0
    assert tally.by_class["4xx"] == len(tally.not_problem_4xx) > 0
