"""Console access over HTTP: the key is asked for, the session cookie is HttpOnly and
SameSite=Strict and holds no key, forms without the session's CSRF token are refused and
write nothing, personal pages are never cached, and /docs and /redoc load nothing from
outside the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from api.store.db import create_db_engine
from api.store.migrate import upgrade_to_head

KEY = "console-access-test-key"


def _settings(tmp_path: Path, api_key: str | None) -> Settings:
    url = f"sqlite:///{tmp_path / 'tagmatch.db'}"
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    return Settings(
        database_url=url,
        model_dir=tmp_path / "models",
        api_key=None if api_key is None else SecretStr(api_key),
        log_level="WARNING",
    )


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path, KEY)), follow_redirects=False) as client:
        yield client


@pytest.fixture
def open_mode(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path, None)), follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, key: str = KEY) -> TestClient:
    form = client.get("/console/login")
    return client.post(  # type: ignore[return-value]
        "/console/login",
        data={"api_key": key, "csrf_token": csrf_of(form.text), "next": "/console"},
    )


def test_pages_ask_for_the_key_first(keyed: TestClient) -> None:
    response = keyed.get("/console?lang=zh")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console%3Flang%3Dzh"
    form = keyed.get("/console/login")
    assert form.status_code == 200 and 'name="api_key"' in form.text
    assert form.headers["cache-control"] == "no-store"


def test_a_wrong_key_gets_no_session(keyed: TestClient) -> None:
    response = sign_in(keyed, "wrong")
    assert response.status_code == 401
    assert "not valid" in response.text
    assert keyed.get("/console").status_code == 303  # still asked for the key


def test_the_right_key_gets_a_strict_http_only_cookie_without_the_key(keyed: TestClient) -> None:
    response = sign_in(keyed)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert KEY not in cookie
    page = keyed.get("/console")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"


def test_a_tampered_cookie_is_no_session(keyed: TestClient) -> None:
    sign_in(keyed)
    value = keyed.cookies.get("tagmatch_console")
    assert value is not None
    keyed.cookies.clear()
    keyed.cookies.set("tagmatch_console", value[:-2] + "xx", path="/console")
    assert keyed.get("/console").status_code == 303


def test_login_without_the_forms_csrf_token_is_refused(keyed: TestClient) -> None:
    keyed.get("/console/login")
    response = keyed.post("/console/login", data={"api_key": KEY, "csrf_token": "forged"})
    assert response.status_code == 403
    assert "tagmatch_console" not in response.headers.get("set-cookie", "")
    assert keyed.get("/console").status_code == 303


def test_sign_out_needs_the_token_and_ends_the_session(keyed: TestClient) -> None:
    sign_in(keyed)
    page = keyed.get("/console")
    assert keyed.post("/console/logout", data={"csrf_token": "forged"}).status_code == 403
    assert keyed.get("/console").status_code == 200
    response = keyed.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert keyed.get("/console").status_code == 303


def test_open_mode_opens_the_console_with_a_session(open_mode: TestClient) -> None:
    response = open_mode.get("/console")
    assert response.status_code == 200
    assert "HttpOnly" in response.headers["set-cookie"]
    assert open_mode.get("/console/login").status_code == 303


def test_chinese_and_english(keyed: TestClient) -> None:
    sign_in(keyed)
    assert "概览" in keyed.get("/console?lang=zh").text
    assert "概览" in keyed.get("/console").text  # the choice is remembered
    assert "Overview" in keyed.get("/console?lang=en").text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_nothing_from_outside(open_mode: TestClient, page: str) -> None:
    html = open_mode.get(page)
    assert html.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert sources, html.text
    assert all(s.startswith("/") for s in sources), sources
    assert "//" not in " ".join(re.findall(r"url\(([^)]*)\)", html.text))
    for source in sources:
        asset = open_mode.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert open_mode.get("/openapi.json").status_code == 200
