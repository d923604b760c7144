"""openapi/openapi.json is what the app serves; regenerate it with `make openapi`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

from api.app import create_app
from api.schemas import events, items, keys, push_lists, segments, users
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


DOCUMENT = create_app(Settings()).openapi()
OPERATIONS = [
    (path, method, operation)
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
]


def test_operation_ids_are_tag_and_name() -> None:
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(ids) == len(set(ids))
    for _, _, operation in OPERATIONS:
        tag = operation["tags"][0].replace(" ", "-")
        assert re.fullmatch(rf"{tag}-[a-z_]+", operation["operationId"]), operation["operationId"]
    paths = DOCUMENT["paths"]
    assert paths["/v1/users/{user_id}/recommendations"]["get"]["operationId"] == "serving-recommend"


def test_every_tag_is_described() -> None:
    described = {tag["name"]: tag["description"] for tag in DOCUMENT["tags"]}
    used = {operation["tags"][0] for _, _, operation in OPERATIONS}
    assert used <= set(described) and all(described.values())


def test_every_request_body_has_a_valid_example() -> None:
    models = {
        name: model
        for module in (users, items, events, push_lists, segments, keys)
        for name, model in vars(module).items()
        if isinstance(model, type) and issubclass(model, BaseModel)
    }
    with_body = [(p, m, o) for p, m, o in OPERATIONS if "requestBody" in o]
    assert len(with_body) >= 5
    for path, method, operation in with_body:
        [media] = operation["requestBody"]["content"].values()
        assert "example" in media, f"{method.upper()} {path} has no example"
        # The example is one the API accepts: it validates against the body's model.
        models[media["schema"]["$ref"].rsplit("/", 1)[-1]].model_validate(media["example"])


def test_every_error_response_is_a_problem() -> None:
    for path, method, operation in OPERATIONS:
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, f"{method.upper()} {path} {status}"
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


def test_api_key_schemes_are_declared_on_v1() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "the key of TAGMATCH_API_KEY",
    }
    assert schemes["bearer"]["scheme"] == "bearer"
    for path, _, operation in OPERATIONS:
        expected = [{"apiKey": []}, {"bearer": []}] if path.startswith("/v1/") else None
        assert operation.get("security") == expected, path
