"""Bulk import of users, items or events from CSV or JSON Lines, through the API's schemas.

Every row is validated first, by the same pydantic models as PUT /v1/users, PUT /v1/items and
POST /v1/events (and the same event-type rule): a file with any bad row is reported, line by
line, and nothing of it is written. A valid file is written in transactions of `batch` rows,
so a crash leaves only whole batches, and running the import again completes it (users and
items are upserts, events are idempotent by id).

CSV: a header row names the fields; `attributes`, `tags` and `consent` cells are JSON
(`{"age": 29}`, `["kw:瑜伽"]`, `{"push": true}`); an empty cell is an absent field.
JSON Lines: one JSON object a line, exactly as in the API's batches; blank lines are skipped.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api import ingest
from api.schemas.events import EventIn, unknown_event_types
from api.schemas.items import ItemIn
from api.schemas.users import UserIn
from api.store.bulk import refresh_planner_statistics
from api.store.db import SessionFactory, session_scope
from matching.progress import Progress, ignore_progress

Kind = Literal["users", "items", "events"]
KINDS: tuple[Kind, ...] = ("users", "items", "events")
SCHEMAS: dict[Kind, type[BaseModel]] = {"users": UserIn, "items": ItemIn, "events": EventIn}
JSON_CELLS = frozenset({"attributes", "tags", "consent"})
MAX_REPORTED = 50  # bad rows listed; the count is always complete


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(slots=True)
class ImportResult:
    rows: int = 0
    written: int = 0  # users/items upserted, events accepted
    duplicates: int = 0  # events already stored
    errors: list[RowError] = field(default_factory=list)
    bad_rows: int = 0


class UnknownFormat(ValueError):
    """Neither .csv nor .jsonl/.ndjson, and no format given."""


def file_format(path: Path, given: str | None = None) -> Literal["csv", "jsonl"]:
    name = (given or path.suffix.lstrip(".")).lower()
    if name == "csv":
        return "csv"
    if name in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise UnknownFormat(f"{path.name}: say --format csv or jsonl (from the name: {name!r})")


def read_rows(path: Path, fmt: Literal["csv", "jsonl"]) -> Iterator[tuple[int, Any]]:
    """(line number, row) pairs; a row that is not an object is yielded as it is (the
    validation reports it)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if fmt == "jsonl":
            for number, text in enumerate(handle, start=1):
                if text.strip():
                    try:
                        yield number, json.loads(text)
                    except json.JSONDecodeError as exc:
                        yield number, _Unreadable(f"not JSON: {exc.msg} at column {exc.colno}")
            return
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, _csv_row(row)


@dataclass(frozen=True, slots=True)
class _Unreadable:
    reason: str


def _csv_row(row: dict[str | None, Any]) -> dict[str, Any] | _Unreadable:
    if None in row:
        return _Unreadable("more cells than the header has columns")
    parsed: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None or cell is None or cell == "":
            continue
        if name in JSON_CELLS:
            try:
                parsed[name] = json.loads(cell)
            except json.JSONDecodeError:
                return _Unreadable(f"{name}: not JSON: {cell[:60]!r}")
        else:
            parsed[name] = cell
    return parsed


def validate(
    kind: Kind, rows: Sequence[tuple[int, Any]], event_types: Collection[str]
) -> tuple[list[BaseModel], list[RowError]]:
    schema = SCHEMAS[kind]
    valid: list[BaseModel] = []
    errors: list[RowError] = []
    for line, row in rows:
        if isinstance(row, _Unreadable):
            errors.append(RowError(line, "row", row.reason))
            continue
        try:
            record = schema.model_validate(row)
        except ValidationError as exc:
            errors.extend(
                RowError(line, ".".join(str(p) for p in e["loc"]) or "row", e["msg"])
                for e in exc.errors()
            )
            continue
        if isinstance(record, EventIn):
            for error in unknown_event_types([record], event_types, loc=()):
                errors.append(RowError(line, "type", error["msg"]))
                break
            else:
                valid.append(record)
        else:
            valid.append(record)
    return valid, errors


def import_file(
    factory: SessionFactory,
    kind: Kind,
    path: Path,
    *,
    event_types: Collection[str],
    fmt: str | None = None,
    batch: int = 5_000,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate every row of `path`, then (only if all are valid) write them in batches."""
    report = progress or ignore_progress
    report("reading", 0.0)
    rows = list(read_rows(path, file_format(path, fmt)))
    report("validating", 0.05)
    records, errors = validate(kind, rows, event_types)
    result = ImportResult(rows=len(rows))
    if errors:
        result.bad_rows = len({e.line for e in errors})
        result.errors = errors[:MAX_REPORTED]
        return result
    write = _WRITERS[kind]
    for start in range(0, len(records), batch):
        report("writing", 0.1 + 0.9 * start / max(len(records), 1))
        with session_scope(factory) as session:
            written, duplicates = write(session, records[start : start + batch])
        result.written += written
        result.duplicates += duplicates
    if result.written:
        with session_scope(factory) as session:
            refresh_planner_statistics(session)
    report("done", 1.0)
    return result


def _users(session: Session, records: Sequence[BaseModel]) -> tuple[int, int]:
    rows = [r.to_record() for r in records if isinstance(r, UserIn)]
    return ingest.write_users(session, rows), 0


def _items(session: Session, records: Sequence[BaseModel]) -> tuple[int, int]:
    rows = [r.to_record() for r in records if isinstance(r, ItemIn)]
    return ingest.write_items(session, rows), 0


def _events(session: Session, records: Sequence[BaseModel]) -> tuple[int, int]:
    inserted = ingest.write_events(
        session, [r.to_record() for r in records if isinstance(r, EventIn)]
    )
    return inserted.accepted, inserted.duplicates


_WRITERS: dict[Kind, Callable[[Session, Sequence[BaseModel]], tuple[int, int]]] = {
    "users": _users,
    "items": _items,
    "events": _events,
}
