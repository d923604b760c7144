"""API keys with scopes, the brake on failed keys, protected operations, and the audit log
(issue 13), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from store_dump import dump_text
from typer.testing import CliRunner

from api import auth
from api.app import create_app
from api.cli import app as cli_app
from api.pseudonyms import person_ref
from api.settings import Settings

ROOT = "root-key-for-tests"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(autouse=True)
def _no_auth_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "CACHE_SECONDS", 0.0)  # revocations visible at once


def _app(migrated_url: str, tmp_path: Path, **overrides: Any) -> TestClient:
    settings = Settings(database_url=migrated_url, model_dir=tmp_path / "models", **overrides)
    return TestClient(create_app(settings))


@pytest.fixture
def keyed(migrated_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with _app(migrated_url, tmp_path, api_key=SecretStr(ROOT), failed_key_limit=3) as client:
        yield client


def _create(client: TestClient, *scopes: str) -> dict[str, Any]:
    created = client.post(
        "/v1/keys", json={"name": "test", "scopes": list(scopes)}, headers=_bearer(ROOT)
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_scopes_decide_what_a_key_may_do(keyed: TestClient) -> None:
    ingest = _create(keyed, "ingest")["key"]
    serve = _create(keyed, "serve")["key"]
    users = {"users": [{"id": "u1"}]}
    assert keyed.put("/v1/users", json=users).status_code == 401
    assert keyed.put("/v1/users", json=users, headers=_bearer(ingest)).status_code == 200
    denied = keyed.put("/v1/users", json=users, headers=_bearer(serve))
    assert denied.status_code == 403 and "ingest" in denied.json()["detail"]
    assert keyed.get("/v1/users/u1/recommendations", headers=_bearer(serve)).status_code == 200
    # erasure is admin, even for a key that may ingest
    assert keyed.delete("/v1/users/u1", headers=_bearer(ingest)).status_code == 403
    # the marketer's audience is not the platform's
    assert keyed.get("/v1/items/i1/audience", headers=_bearer(serve)).status_code == 403
    # an empty X-API-Key beside a valid Bearer key is no key at all, not a wrong one
    both = {"X-API-Key": "", **_bearer(ingest)}
    assert keyed.put("/v1/users", json=users, headers=both).status_code == 200
    assert keyed.put("/v1/users", json=users, headers={"X-API-Key": ingest}).status_code == 200


def test_revoked_key_stops_working_and_only_admins_manage_keys(keyed: TestClient) -> None:
    created = _create(keyed, "ingest", "serve")
    key = created["key"]
    assert keyed.get("/v1/keys", headers=_bearer(key)).status_code == 403
    listed = keyed.get("/v1/keys", headers=_bearer(ROOT)).json()["keys"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert keyed.delete(f"/v1/keys/{created['id']}", headers=_bearer(ROOT)).status_code == 204
    assert keyed.put("/v1/users", json={"users": []}, headers=_bearer(key)).status_code == 401
    assert keyed.delete(f"/v1/keys/{created['id']}", headers=_bearer(ROOT)).status_code == 404


def test_repeated_failed_keys_are_answered_429(keyed: TestClient) -> None:
    for _ in range(3):
        assert keyed.get("/v1/segments", headers=_bearer("wrong")).status_code == 401
    braked = keyed.get("/v1/segments", headers=_bearer("wrong"))
    assert braked.status_code == 429 and int(braked.headers["retry-after"]) >= 1
    # the brake holds for this client whatever it sends next
    assert keyed.get("/v1/segments", headers=_bearer(ROOT)).status_code == 429


def test_a_stored_key_turns_authentication_on(migrated_url: str, tmp_path: Path) -> None:
    with _app(migrated_url, tmp_path) as client:
        assert client.get("/v1/segments").status_code == 200  # open: no key anywhere
        runner = CliRunner()
        env = {"TAGMATCH_DATABASE_URL": migrated_url, "TAGMATCH_LOG_LEVEL": "WARNING"}
        made = runner.invoke(
            cli_app, ["keys", "create", "--name", "crm", "--scope", "marketing"], env=env
        )
        assert made.exit_code == 0, made.output
        key = made.output.split("key: ")[1].strip()
        key_id = made.output.split("id: ")[1].split()[0]
        assert client.get("/v1/segments").status_code == 401
        assert client.get("/v1/segments", headers=_bearer(key)).status_code == 200
        assert key_id in runner.invoke(cli_app, ["keys", "list"], env=env).output
        assert runner.invoke(cli_app, ["keys", "revoke", key_id], env=env).exit_code == 0
        assert client.get("/v1/segments", headers=_bearer(key)).status_code == 200  # open again
        bad = runner.invoke(cli_app, ["keys", "create", "--name", "x", "--scope", "god"], env=env)
        assert bad.exit_code != 0


def test_operations_endpoints_are_protectable(migrated_url: str, tmp_path: Path) -> None:
    with _app(migrated_url, tmp_path, api_key=SecretStr(ROOT), protect_operations=True) as client:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers=_bearer(ROOT)).status_code == 200, path
        assert client.get("/healthz").status_code == 200
    with _app(migrated_url, tmp_path, api_key=SecretStr(ROOT)) as client:
        assert client.get("/metrics").status_code == 200  # open unless asked


def test_audit_log_records_who_did_what_without_personal_data(keyed: TestClient) -> None:
    marketer = _create(keyed, "marketing", "ingest")
    headers = _bearer(marketer["key"])
    keyed.put("/v1/users", json={"users": [{"id": "alice@example.com"}]}, headers=headers)
    assert (
        keyed.put("/v1/segments/vip", json={"rule": "life = 'new'"}, headers=headers).status_code
        == 200
    )
    assert keyed.delete("/v1/segments/vip", headers=headers).status_code == 204
    assert keyed.delete("/v1/users/alice@example.com", headers=_bearer(ROOT)).status_code == 204
    assert keyed.get("/v1/audit", headers=headers).status_code == 403
    page = keyed.get("/v1/audit", params={"limit": 2}, headers=_bearer(ROOT)).json()
    older = keyed.get(
        "/v1/audit", params={"before": page["next_before"]}, headers=_bearer(ROOT)
    ).json()
    entries = page["entries"] + older["entries"]
    assert [(e["action"], e["key_id"]) for e in entries] == [
        ("user.erase", "env"),
        ("segment.delete", marketer["id"]),
        ("segment.put", marketer["id"]),
        ("key.create", "env"),
    ]
    assert entries[1]["target"] == "vip" and entries[0]["client"] == "testclient"
    engine = keyed.app.state.engine  # type: ignore[attr-defined]
    audit_rows = [line for line in dump_text(engine).splitlines() if line.startswith("audit_log")]
    assert len(audit_rows) == 4 and not any("alice@example.com" in r for r in audit_rows)


def test_security_headers_on_every_response(keyed: TestClient) -> None:
    for path, headers in [("/healthz", {}), ("/v1/segments", _bearer(ROOT)), ("/nowhere", {})]:
        response = keyed.get(path, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", path
    assert keyed.get("/v1/segments", headers=_bearer(ROOT)).headers["cache-control"] == "no-store"
    assert keyed.get("/v1/segments").headers["cache-control"] == "no-store"  # a 401 too


def test_wider_csv_export_needs_the_admin_scope(keyed: TestClient) -> None:
    marketer = _bearer(_create(keyed, "marketing")["key"])
    asked = keyed.get("/v1/push-lists/none", params={"fields": "reasons"}, headers=marketer)
    assert asked.status_code == 403
    unknown = keyed.get("/v1/push-lists/none", params={"fields": "email"}, headers=marketer)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["query", "fields"]
    assert keyed.get("/v1/push-lists/none", headers=marketer).status_code == 404


def test_access_log_names_users_by_pseudonym(
    keyed: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tagmatch.access")
    keyed.put("/v1/users", json={"users": [{"id": "bob@example.com"}]}, headers=_bearer(ROOT))
    assert keyed.delete("/v1/users/bob@example.com", headers=_bearer(ROOT)).status_code == 204
    paths = [getattr(r, "path", "") for r in caplog.records if r.name == "tagmatch.access"]
    assert f"/v1/users/{person_ref('bob@example.com')}" in paths
    ours = [r for r in caplog.records if r.name.startswith("tagmatch")]  # not the client's
    assert ours and not any("bob@example.com" in r.getMessage() + str(r.__dict__) for r in ours)


def test_every_v1_operation_needs_a_key(keyed: TestClient) -> None:
    """Some routes authorise inside the handler, not by a router dependency (the
    per-page-view ones, api.deps.serving_for): none may be left open by mistake."""
    checked = []
    document = keyed.app.openapi()  # type: ignore[attr-defined]
    for template, operations in document["paths"].items():
        if not template.startswith("/v1/"):
            continue
        path = template.replace("{", "").replace("}", "")  # each parameter named by itself
        for method in operations:
            answer = keyed.request(method.upper(), path)
            assert answer.status_code == 401, (method, template, answer.status_code)
            checked.append((method.upper(), template))
    assert ("GET", "/v1/users/{user_id}/recommendations") in checked
    assert ("GET", "/v1/items/{item_id}/audience") in checked
    assert len(checked) >= 25
