"""The OpenAPI document, shaped for client generators.

* operation ids are `{tag}-{function name}` (`serving-recommend`), stable and readable;
* every tag has a description;
* every error response is `application/problem+json` with the Problem schema (FastAPI's own
  HTTPValidationError is never what a client receives: api.errors answers problems);
* every request body shows its model's first example;
* /v1 operations declare the API key, as `X-API-Key` or `Authorization: Bearer`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_JSON = "application/problem+json"

TAGS: list[dict[str, str]] = [
    {
        "name": "admin",
        "description": "API keys with scopes (created, listed, revoked) and the append-only "
        "audit log; the admin scope.",
    },
    {
        "name": "users",
        "description": "Upsert users with attributes, declared tags and push consent; read "
        "one; erase one (attributes, events, push history; gone from answers at once).",
    },
    {
        "name": "items",
        "description": "Upsert content items (title and text give keywords; tags, category, "
        "publication window); read one; delete one (never recommended again).",
    },
    {
        "name": "events",
        "description": "Interactions, idempotent by event id; the event type must be "
        "configured (model configuration events.weights or TAGMATCH_EXTRA_EVENT_TYPES).",
    },
    {
        "name": "serving",
        "description": "Items for a user (recommendations, with a strategy: personal, "
        "cold_start or popular), similar items, and users for an item (audience).",
    },
    {
        "name": "personas",
        "description": "A user's persona: attributes, tags with weight and source, "
        "lifecycle stage, RFM bands, segments.",
    },
    {
        "name": "push lists",
        "description": "Target lists for an item: only users with push consent, frequency "
        "caps across lists; stored, exported as JSON or CSV.",
    },
    {
        "name": "segments",
        "description": "Named rules over users in the segment rule language (see the API "
        "guide), their members and persona reports.",
    },
    {
        "name": "models",
        "description": "Training runs as jobs (stage and progress), model versions with "
        "their metrics, activation and rollback.",
    },
    {
        "name": "operations",
        "description": "Liveness, readiness and Prometheus metrics; no API key needed.",
    },
]

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "the key of TAGMATCH_API_KEY",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the same key as `Authorization: Bearer <key>`",
    },
}

_UNSAFE = re.compile(r"[^a-z0-9]+")


def operation_id(route: APIRoute) -> str:
    """`{tag}-{name}`: the route's first tag (as a slug) and its function's name."""
    tag = _UNSAFE.sub("-", str(route.tags[0]).lower()).strip("-") if route.tags else "default"
    return f"{tag}-{route.name}"


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with a builder of the shaped document (built once, then cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            app.openapi_schema = shape(document)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def shape(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _problems(operation)
            _example(operation, schemas)
            if path.startswith("/v1/"):
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _problems(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
            if response.get("description") == "Validation Error":
                response["description"] = "invalid field; errors[].loc names it"


def _example(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        examples = schemas.get(ref.rsplit("/", 1)[-1], {}).get("examples")
        if examples and "example" not in media:
            media["example"] = examples[0]
