"""Field types shared by the resources: ids, tags with weights, attributes, problems."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

ID_MAX = 128

ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="client-chosen id, 1-128 characters, no control characters"),
]

TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ID_MAX)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _tags_from_list(value: Any) -> Any:
    """A list of tags means weight 1 each; a {tag: weight} object is taken as is."""
    if isinstance(value, list):
        if not all(isinstance(tag, str) for tag in value):
            raise ValueError("tags must be a list of strings or an object of {tag: weight}")
        return dict.fromkeys(value, 1.0)
    return value


TagWeights = Annotated[
    dict[TagName, Weight],
    BeforeValidator(_tags_from_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}},
                {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
            ],
            "description": 'tags: ["genre:Comedy", ...] (weight 1 each) or {"genre:Comedy": 0.8}',
        }
    ),
    Field(max_length=1_000),
]

AttributeValue = str | int | float | bool | None
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _finite_attributes(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"attribute {key!r} is not a finite number")
    return value


Attributes = Annotated[
    dict[AttributeKey, AttributeValue], BeforeValidator(_finite_attributes), Field(max_length=200)
]


class StrictModel(BaseModel):
    """Unknown fields are an error: a misspelt field would otherwise vanish silently."""

    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Upserted(BaseModel):
    upserted: int = Field(description="distinct ids written")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting problem+json answers for the given statuses."""
    # "model" registers the Problem schema; api.openapi files it under problem+json only.
    return {
        status: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": _DESCRIPTIONS.get(status, "error"),
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    401: "missing or wrong API key",
    403: "the key lacks the scope this needs",
    404: "no such resource",
    409: "conflicts with the stored state; detail says how",
    413: "batch larger than the configured maximum",
    422: "invalid field; errors[].loc names it",
    429: "too many requests; retry after the Retry-After header",
    503: "a dependency (store, model) is unavailable; retry later",
}
