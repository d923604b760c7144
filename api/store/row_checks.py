"""The snapshot's row checks: a stored row the training pipeline cannot use is skipped and
counted, never allowed to fail the run.

The API refuses such rows at the edge (api.schemas), but the store may hold rows written
before those limits, by another tool, or by hand. What the pipeline needs of a row: ids
within the column size, attributes an object of scalars within bounds, tags an object of
finite weights, text within the API's limits, timestamps the driver can represent.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from api.schemas.common import ATTRIBUTE_VALUE_MAX, ID_MAX, NUMBER_MAX, TAG_WEIGHT_MAX
from api.schemas.items import TEXT_MAX, TITLE_MAX
from matching.data import ItemRecord, UserRecord

log = logging.getLogger("tagmatch.snapshot")

# Rows dated outside this are skipped in SQL: PostgreSQL holds dates (year 0, 1 BC, year
# 10000 after a zone shift) that no Python datetime can represent, so they must not be fetched.
READABLE_FROM = datetime(1900, 1, 1, tzinfo=UTC)
READABLE_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)
EVENT_VALUE_MAX = 1e12
MAX_EVENT_TYPES = 32_000  # type codes are int16


class SkippedRows(Counter[str]):
    """Rows left out of a snapshot, counted by "table.reason"."""

    def report(self) -> None:
        if self:
            log.warning("snapshot skipped unusable rows", extra={"skipped": dict(self)})


def _scalar_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):  # before math.isfinite, which overflows on huge ints
        return None if abs(value) <= NUMBER_MAX else "number"
    if isinstance(value, float):
        return None if math.isfinite(value) and abs(value) <= NUMBER_MAX else "number"
    if isinstance(value, str):
        return None if len(value) <= ATTRIBUTE_VALUE_MAX else "length"
    return "type"


def weights(tags: Any) -> dict[str, float] | None:
    """{tag: finite weight}, or None when the stored value is not one."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        return None
    out: dict[str, float] = {}
    for tag, weight in tags.items():
        if len(str(tag)) > ID_MAX or isinstance(weight, bool):
            return None
        if not isinstance(weight, int | float) or not 0 <= weight <= TAG_WEIGHT_MAX:
            return None  # NaN fails the comparison too
        out[str(tag)] = float(weight)
    return out


def user_record(row: Any, skipped: SkippedRows) -> UserRecord | None:
    attributes = row.attributes if row.attributes is not None else {}
    problem = None
    if len(row.id) > ID_MAX:
        problem = "id"
    elif not isinstance(attributes, dict) or any(
        len(str(key)) > ID_MAX or _scalar_problem(value) for key, value in attributes.items()
    ):
        problem = "attributes"
    tags = weights(row.tags)
    if problem is None and tags is None:
        problem = "tags"
    if problem is not None or tags is None:
        skipped[f"users.{problem}"] += 1
        return None
    return UserRecord(
        id=row.id, attributes=dict(attributes), tags=tags, push_consent=bool(row.push_consent)
    )


def item_record(row: Any, skipped: SkippedRows) -> ItemRecord | None:
    title, text = row.title or "", row.text or ""
    problem = None
    if len(row.id) > ID_MAX:
        problem = "id"
    elif len(title) > TITLE_MAX or len(text) > TEXT_MAX:
        problem = "text"
    elif row.category is not None and len(row.category) > ID_MAX:
        problem = "category"
    tags = weights(row.tags)
    if problem is None and tags is None:
        problem = "tags"
    if problem is not None or tags is None:
        skipped[f"items.{problem}"] += 1
        return None
    return ItemRecord(
        id=row.id,
        title=title,
        text=text,
        tags=tags,
        category=row.category,
        published_at=_epoch(row.published_at),
        expires_at=_epoch(row.expires_at),
    )


def event_value(value: float | None) -> float | None:
    """The value as training stores it (float32), or None when it cannot be."""
    if value is None:
        return 0.0
    if not math.isfinite(value) or abs(value) > EVENT_VALUE_MAX:
        return None
    return value


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
