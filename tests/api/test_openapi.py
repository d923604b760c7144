"""openapi/openapi.json is what the app serves; regenerate it with `make openapi`."""

from __future__ import annotations

import json
from pathlib import Path

from api.app import create_app
from api.settings import Settings

STORED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_stored_openapi_document_is_current() -> None:
    current = create_app(Settings()).openapi()
    assert STORED.is_file(), f"{STORED} is missing: run `make openapi`"
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    assert stored == current, "openapi/openapi.json is stale: run `make openapi` and commit it"


def test_ingest_contract_is_documented() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    assert {"put"} <= set(paths["/v1/users"]) and {"put"} <= set(paths["/v1/items"])
    assert set(paths["/v1/users/{user_id}"]) == {"get", "delete"}
    assert set(paths["/v1/items/{item_id}"]) == {"get", "delete"}
    post_events = paths["/v1/events"]["post"]
    assert {"200", "413", "422"} <= set(post_events["responses"])
    assert "application/problem+json" in post_events["responses"]["422"]["content"]
