"""Operations and cross-cutting behaviour: health, readiness, metrics, request ids, errors,
API key, and the refusal to start on an unmigrated database."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from api.store.migrate import DatabaseNotMigrated

PROBLEM = "application/problem+json"


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")  # no model trained yet: up, store reachable, not ready
    assert ready.status_code == 503
    # The keyword extractor (jieba) is loaded during start-up, before the first request.
    assert ready.json()["checks"] == {"store": True, "keywords": True, "model": False}


def test_readyz_runs_appended_checks(client: TestClient) -> None:
    checks = client.app.state.readiness_checks  # type: ignore[attr-defined]
    checks.append(lambda: ("index", False))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    expected = {"store": True, "keywords": True, "model": False, "index": False}
    assert response.json()["checks"] == expected
    assert "index" in response.json()["detail"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/v1/users/someone")
    client.get("/v1/users/someone-else")
    client.get("/no/such/thing")
    text = client.get("/metrics").text
    assert (
        'tagmatch_http_requests_total{method="GET",route="/v1/users/{user_id}",status="404"} 2.0'
        in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert "tagmatch_http_request_duration_seconds_bucket" in text


def test_two_apps_in_one_process_keep_separate_metrics(settings: Settings) -> None:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        a.get("/healthz")
        assert 'route="/healthz"' in a.get("/metrics").text
        assert 'route="/healthz"' not in b.get("/metrics").text


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] not in ("", "bad id with spaces")
    assert client.get("/missing").headers["X-Request-ID"]


def test_unknown_route_and_wrong_method_are_problems(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found" and body["type"] == "about:blank"
    wrong = client.patch("/v1/users")
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM
    assert "PUT" in wrong.headers["allow"]


def test_server_error_leaks_no_traceback_and_is_logged_with_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    assert response.headers["X-Request-ID"] == "req-500"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "req-500" in response.json()["detail"]
    logged = [r for r in caplog.records if r.name == "tagmatch.errors"]
    assert logged and logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None) == "req-500"


def test_api_key_guards_v1_only(settings: Settings) -> None:
    guarded = settings.model_copy(update={"api_key": SecretStr("s3cret")})
    with TestClient(create_app(guarded)) as client:
        refused = client.get("/v1/users/u1")
        assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
        assert client.get("/v1/users/u1", headers={"X-API-Key": "wrong"}).status_code == 401
        bearer = client.get("/v1/users/u1", headers={"Authorization": "Bearer s3cret"})
        assert bearer.status_code == 404
        assert client.get("/v1/users/u1", headers={"X-API-Key": "s3cret"}).status_code == 404
        assert client.get("/healthz").status_code == 200


def test_app_refuses_an_unmigrated_database(database_url: str, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=database_url, model_dir=tmp_path))
    with pytest.raises(DatabaseNotMigrated, match="run: tagmatch db upgrade"), TestClient(app):
        pass


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    from api.logs import configure_logging, request_id_var

    configure_logging("INFO", "json")
    token = request_id_var.set("rid-7")
    try:
        logging.getLogger("tagmatch.test").info("hello", extra={"n": 3})
    finally:
        request_id_var.reset(token)
    line = [ln for ln in capsys.readouterr().err.splitlines() if "hello" in ln][-1]
    record = json.loads(line)
    assert record["msg"] == "hello" and record["request_id"] == "rid-7" and record["n"] == 3
