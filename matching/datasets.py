"""Catalogues of users, items and events from outside the store: MovieLens files, synthetic data.

A Catalogue is what an importer or a benchmark holds before there is a Snapshot: records with
external ids. `Catalogue.to_snapshot` turns it into the row-indexed form training works on.
Events may be a plain list of EventRecord or an EventTable, the columnar sequence the synthetic
generator produces so that ten million events never become ten million Python objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

import numpy as np

from matching.data import EventLog, ItemRecord, Snapshot, UserRecord
from matching.vocabulary import Vocabulary

# Where MovieLens 100K lives is the caller's to say: the package never assumes a location.
ML100K_ENV = "TAGMATCH_ML100K"


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    user_id: str
    item_id: str
    type: str
    ts: float  # epoch seconds
    value: float | None = None


class EventTable(Sequence[EventRecord]):
    """Events as parallel arrays that read as a sequence of EventRecord.

    user/item are rows into the id tables user_ids/item_ids; value is NaN where an event has
    none; an event's id is id_prefix + its serial number, zero-padded to id_width digits.
    """

    __slots__ = (
        "id_prefix",
        "id_width",
        "item",
        "item_ids",
        "serial",
        "ts",
        "type_code",
        "type_names",
        "user",
        "user_ids",
        "value",
    )

    def __init__(
        self,
        *,
        user_ids: Sequence[str],
        item_ids: Sequence[str],
        user: np.ndarray,
        item: np.ndarray,
        type_names: Sequence[str],
        type_code: np.ndarray,
        ts: np.ndarray,
        value: np.ndarray,
        serial: np.ndarray | None = None,
        id_prefix: str = "evt-",
        id_width: int = 8,
    ) -> None:
        self.user_ids = user_ids
        self.item_ids = item_ids
        self.user = np.asarray(user, dtype=np.int32)
        self.item = np.asarray(item, dtype=np.int32)
        self.type_names = list(type_names)
        self.type_code = np.asarray(type_code, dtype=np.int16)
        self.ts = np.asarray(ts, dtype=np.float64)
        self.value = np.asarray(value, dtype=np.float32)
        n = len(self.user)
        self.serial = np.arange(n, dtype=np.int64) if serial is None else np.asarray(serial)
        self.id_prefix = id_prefix
        self.id_width = id_width
        for name in ("item", "type_code", "ts", "value", "serial"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"EventTable.{name} has a different length than EventTable.user")

    def __len__(self) -> int:
        return len(self.user)

    def _record(self, row: int) -> EventRecord:
        value = float(self.value[row])
        return EventRecord(
            id=f"{self.id_prefix}{int(self.serial[row]):0{self.id_width}d}",
            user_id=self.user_ids[int(self.user[row])],
            item_id=self.item_ids[int(self.item[row])],
            type=self.type_names[int(self.type_code[row])],
            ts=float(self.ts[row]),
            value=None if np.isnan(value) else value,
        )

    @overload
    def __getitem__(self, index: int) -> EventRecord: ...
    @overload
    def __getitem__(self, index: slice) -> EventTable: ...
    def __getitem__(self, index: int | slice) -> EventRecord | EventTable:
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("event index out of range")
        return self._record(index)

    def __iter__(self) -> Iterator[EventRecord]:
        for row in range(len(self)):
            yield self._record(row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventTable):
            return NotImplemented
        return (
            list(self.user_ids) == list(other.user_ids)
            and list(self.item_ids) == list(other.item_ids)
            and self.type_names == other.type_names
            and (self.id_prefix, self.id_width) == (other.id_prefix, other.id_width)
            and all(
                np.array_equal(getattr(self, name), getattr(other, name), equal_nan=True)
                for name in ("user", "item", "type_code", "ts", "value", "serial")
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def take(self, rows: np.ndarray) -> EventTable:
        """The events at `rows` (indices or a boolean mask), keeping their ids."""
        return EventTable(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            user=self.user[rows],
            item=self.item[rows],
            type_names=self.type_names,
            type_code=self.type_code[rows],
            ts=self.ts[rows],
            value=self.value[rows],
            serial=self.serial[rows],
            id_prefix=self.id_prefix,
            id_width=self.id_width,
        )


@dataclass(eq=True)
class Catalogue:
    users: list[UserRecord]
    items: list[ItemRecord]
    events: Sequence[EventRecord]  # a list of EventRecord or an EventTable

    def event_log(
        self, user_vocab: Vocabulary | None = None, item_vocab: Vocabulary | None = None
    ) -> EventLog:
        """Events with rows into the given vocabularies (default: the order of users/items).

        An event naming a user or item that is not in the vocabulary is an error: a Catalogue
        is meant to be complete, unlike the ingest API, which creates unknown ids on the fly.
        """
        users = user_vocab if user_vocab is not None else _vocabulary(u.id for u in self.users)
        items = item_vocab if item_vocab is not None else _vocabulary(i.id for i in self.items)
        events = self.events
        if isinstance(events, EventTable):
            # Map the table's id tables once, then gather: O(ids) lookups, not O(events).
            user_rows = _checked_rows(users, events.user_ids, events.user, "user")
            item_rows = _checked_rows(items, events.item_ids, events.item, "item")
            return EventLog(
                user=user_rows,
                item=item_rows,
                type_code=events.type_code.copy(),
                value=np.nan_to_num(events.value, nan=0.0),
                ts=events.ts.copy(),
                type_names=list(events.type_names),
            )
        user_ids = [e.user_id for e in events]
        item_ids = [e.item_id for e in events]
        user_rows = _require_known(users.indices(user_ids), user_ids, "user")
        item_rows = _require_known(items.indices(item_ids), item_ids, "item")
        values = np.fromiter(
            (0.0 if e.value is None else e.value for e in events), np.float32, len(events)
        )
        return EventLog.from_columns(
            user=user_rows,
            item=item_rows,
            types=[e.type for e in events],
            ts=np.fromiter((e.ts for e in events), np.float64, len(events)),
            value=values,
        )

    def to_snapshot(self, now: float | None = None) -> Snapshot:
        """A Snapshot frozen at `now`.

        The default is one second after the last event, so the same catalogue always gives the
        same snapshot; only a catalogue without events falls back to the current time.
        """
        log = self.event_log()
        if now is None:
            now = float(log.ts.max()) + 1.0 if len(log) else time.time()
        return Snapshot(users=list(self.users), items=list(self.items), events=log, now=now)


def _vocabulary(ids: Iterable[str]) -> Vocabulary:
    return Vocabulary.from_list(list(ids))


def _checked_rows(
    vocab: Vocabulary, table_ids: Sequence[str], rows: np.ndarray, kind: str
) -> np.ndarray:
    mapping = vocab.indices(table_ids)
    if (mapping < 0).any():
        # Only ids some event uses must be known; an unused id table entry is harmless.
        used = np.zeros(len(table_ids), dtype=bool)
        used[rows] = True
        mapping_used = np.where(used, mapping, 0)
        _require_known(mapping_used, table_ids, kind)
    return mapping[rows].astype(np.int32)


def _require_known(rows: np.ndarray, ids: Sequence[str], kind: str) -> np.ndarray:
    unknown = np.flatnonzero(rows < 0)
    if len(unknown):
        raise ValueError(
            f"{len(unknown)} event(s) refer to a {kind} not in the catalogue, "
            f"first: {ids[int(unknown[0])]!r}"
        )
    return rows.astype(np.int32)


def movielens_path(default: Path | None = None) -> Path | None:
    """The ml-100k directory named by $TAGMATCH_ML100K, else `default`; None when neither
    holds u.data. The data set is downloaded separately (docs/operations.md)."""
    named = os.environ.get(ML100K_ENV)
    path = Path(named) if named else default
    return path if path is not None and (path / "u.data").is_file() else None


def load_movielens_100k(path: str | Path) -> Catalogue:
    """Users, movies and ratings of a MovieLens 100K directory (u.user, u.item, u.genre, u.data).

    Ratings become events of type "rating" with the star value; genres become `genre:<Name>`
    item tags, and the release date a `released:<era>` tag (release_era). User attributes are
    left raw (age, gender, occupation, zip): turning them into tags such as age bands is the
    tag space's job.
    """
    root = Path(path)
    users = [_movielens_user(line) for line in _lines(root / "u.user")]
    genres = _movielens_genres(root / "u.genre")
    items = [_movielens_item(line, genres) for line in _lines(root / "u.item")]
    events: list[EventRecord] = []
    for line in _lines(root / "u.data"):
        user, item, rating, ts = line.split("\t")
        events.append(
            EventRecord(
                id=f"ml-{user}-{item}",
                user_id=user,
                item_id=item,
                type="rating",
                ts=float(ts),
                value=float(rating),
            )
        )
    return Catalogue(users=users, items=items, events=events)


def _lines(path: Path) -> list[str]:
    # MovieLens files are latin-1 (accented titles in u.item); ASCII elsewhere reads the same.
    text = path.read_text(encoding="latin-1")
    return [line for line in text.splitlines() if line.strip()]


def _movielens_user(line: str) -> UserRecord:
    user_id, age, gender, occupation, zip_code = line.split("|")
    return UserRecord(
        id=user_id,
        attributes={
            "age": int(age),
            "gender": gender.lower(),
            "occupation": occupation,
            "zip": zip_code,
        },
        push_consent=True,
    )


def _movielens_genres(path: Path) -> list[str]:
    by_index: dict[int, str] = {}
    for line in _lines(path):
        name, index = line.rsplit("|", 1)
        by_index[int(index)] = name
    return [by_index[i] for i in sorted(by_index)]


def _movielens_item(line: str, genres: list[str]) -> ItemRecord:
    fields = line.split("|")
    item_id, title, release = fields[0], fields[1], fields[2]
    flags = fields[-len(genres) :]
    names = [g for g, flag in zip(genres, flags, strict=True) if flag == "1" and g != "unknown"]
    published = _release_date(release)
    tags = {f"genre:{g}": 1.0 for g in names}
    if published is not None:
        tags[f"released:{release_era(published)}"] = 1.0
    return ItemRecord(
        id=item_id,
        title=title,
        tags=tags,
        category=names[0] if names else None,
        published_at=published,
    )


def release_era(published: float) -> str:
    """A film's release as a tag value: "old" before 1980, "1980s", "1990-94", then the year.
    Who rates a film depends on when it came out (new releases draw the users active when the
    ratings were collected, 1997-98; old films a taste of their own), and a brand-new film has
    nothing else but its genres: the era is what places it among users. Finer where the
    catalogue is dense (most films are from 1993-98)."""
    year = datetime.fromtimestamp(published, UTC).year
    if year < 1980:
        return "old"
    if year < 1990:
        return "1980s"
    return "1990-94" if year < 1995 else str(year)


def _release_date(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%d-%b-%Y").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
