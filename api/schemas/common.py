"""Field types shared by the resources: ids, tags with weights, attributes, problems.

The limits here are what the store and the training pipeline can hold (README, "Limits"):
every string is bounded and free of control characters (PostgreSQL cannot store NUL, and
lone surrogates cannot be encoded), every number is finite and far from float overflow,
every timestamp lies in the configured window (api.schemas.timestamps).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

ID_MAX = 128
ATTRIBUTE_VALUE_MAX = 1_000
TAG_WEIGHT_MAX = 1e6
# Integers beyond 2**53 lose precision as floats (and in JavaScript clients); attribute numbers
# feed float arithmetic (age and income bands), so they must convert exactly.
NUMBER_MAX = 2**53
# Row ids (audit entries) are signed 64-bit integers in both stores: a larger one sent as a
# page cursor would overflow the driver (500) instead of matching nothing.
ROW_ID_MAX = 2**63 - 1

# C0 and C1 control characters and DEL. Free text keeps tab, line feed and carriage return.
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
_TEXT_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
NO_CONTROL = f"^[^{_CONTROL}]*$"
TEXT_PATTERN = f"^[^{_TEXT_CONTROL}]*$"
# `/` cannot round-trip: proxies and Starlette decode %2F before routing, so /v1/users/a%2Fb
# would never reach the user "a/b". Refused at ingest, so every stored id is addressable.
ID_PATTERN = f"^[^{_CONTROL}/]+$"


def _addressable(value: str) -> str:
    if value in (".", ".."):
        raise ValueError("'.' and '..' are not ids: URL clients resolve them as path segments")
    return value


ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN),
    AfterValidator(_addressable),
    Field(description="client-chosen id, 1-128 characters, no control characters, no '/'"),
]


def bounded_text(max_length: int, *, multiline: bool = False) -> Any:
    """A string of at most `max_length` characters without control characters (free text
    keeps tab and line breaks when `multiline`)."""
    pattern = TEXT_PATTERN if multiline else NO_CONTROL
    return StringConstraints(max_length=max_length, pattern=pattern)


TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=ID_MAX, pattern=NO_CONTROL),
]
Weight = Annotated[float, Field(ge=0, le=TAG_WEIGHT_MAX, allow_inf_nan=False)]


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
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL)]
_UNSTORABLE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")


def _attribute_problem(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, int | float) and abs(value) > NUMBER_MAX:
        return "is a number beyond +-2**53; send it as a string"
    if isinstance(value, str):
        if len(value) > ATTRIBUTE_VALUE_MAX:
            return f"is longer than {ATTRIBUTE_VALUE_MAX} characters"
        if _UNSTORABLE.search(value):
            return "contains a control character"
    return None


def _storable_attributes(value: Any) -> Any:
    """Checked here rather than by the union's branches, so the one error names the
    attribute instead of listing why each of str/int/float/bool did not match."""
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _attribute_problem(item)
            if problem is not None:
                raise ValueError(f"attribute {key!r} {problem}")
    return value


Attributes = Annotated[
    dict[AttributeKey, AttributeValue], BeforeValidator(_storable_attributes), Field(max_length=200)
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
