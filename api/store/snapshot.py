"""Read the whole store into a matching.data.Snapshot for a training run, streaming."""

from __future__ import annotations

from array import array
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from api.store.row_checks import (
    MAX_EVENT_TYPES,
    READABLE_FROM,
    READABLE_UNTIL,
    SkippedRows,
    event_value,
    item_record,
    user_record,
)
from api.store.tables import Event, Item, User
from matching.data import EventLog, Snapshot
from matching.vocabulary import Vocabulary

STREAM_BATCH = 20_000


def read_snapshot(
    session: Session,
    now: datetime,
    skipped: SkippedRows | None = None,
    *,
    read_ids: array[int] | None = None,
) -> Snapshot:
    """All users, the items not deleted, and the events between them up to `now`.

    Rows the pipeline cannot use (api.store.row_checks) are left out and counted in `skipped`.
    `read_ids`, when given, receives the id of every event row read, ascending (kept or not):
    what api.store.freshness.SnapshotEvents records for serving.

    Rows are streamed (yield_per; a server-side cursor on PostgreSQL), and events go straight
    into typed arrays, so a million events never become a million objects. Use a
    `db.snapshot_session` so the three reads see one consistent state of the store.
    """
    skipped = skipped if skipped is not None else SkippedRows()
    users = [
        user
        for row in _stream(
            session,
            select(User.id, User.attributes, User.tags, User.push_consent).order_by(User.id),
        )
        if (user := user_record(row, skipped)) is not None
    ]
    items = [
        item
        for row in _stream(
            session,
            select(
                Item.id,
                Item.title,
                Item.text,
                Item.tags,
                Item.category,
                Item.published_at,
                Item.expires_at,
            )
            .where(Item.deleted.is_(False), *_readable_dates(Item.published_at, Item.expires_at))
            .order_by(Item.id),
        )
        if (item := item_record(row, skipped)) is not None
    ]
    _count_unreadable(session, skipped)
    user_vocab = Vocabulary.from_list([user.id for user in users])
    item_vocab = Vocabulary.from_list([item.id for item in items])
    return Snapshot(
        users=users,
        items=items,
        events=_read_events(session, now, user_vocab, item_vocab, skipped, read_ids),
        now=now.timestamp(),
    )


def _read_events(
    session: Session,
    now: datetime,
    user_vocab: Vocabulary,
    item_vocab: Vocabulary,
    skipped: SkippedRows,
    read_ids: array[int] | None,
) -> EventLog:
    user_rows, item_rows, type_codes = array("i"), array("i"), array("h")
    values, times = array("f"), array("d")
    ids = read_ids if read_ids is not None else array("q")
    type_index: dict[str, int] = {}
    query = (
        select(Event.pk, Event.user_id, Event.item_id, Event.type, Event.value, Event.ts)
        .where(Event.ts <= now, *_readable_dates(Event.ts))
        .order_by(Event.pk)
    )
    user_row, item_row = user_vocab.index, item_vocab.index
    for pk, user_id, item_id, event_type, value, ts in _stream(session, query):
        ids.append(pk)
        item = item_row(item_id)
        if item is None:  # the item was deleted
            continue
        user = user_row(user_id)
        if user is None:  # the user was created after the users were read
            continue
        usable_value = event_value(value)
        if usable_value is None:
            skipped["events.value"] += 1
            continue
        if event_type not in type_index and len(type_index) >= MAX_EVENT_TYPES:
            skipped["events.type"] += 1
            continue
        user_rows.append(user)
        item_rows.append(item)
        type_codes.append(type_index.setdefault(event_type, len(type_index)))
        values.append(usable_value)
        times.append(ts.timestamp())
    return EventLog(
        user=np.frombuffer(user_rows, dtype=np.int32).copy(),
        item=np.frombuffer(item_rows, dtype=np.int32).copy(),
        type_code=np.frombuffer(type_codes, dtype=np.int16).copy(),
        value=np.frombuffer(values, dtype=np.float32).copy(),
        ts=np.frombuffer(times, dtype=np.float64).copy(),
        type_names=list(type_index),
    )


def _stream(session: Session, query: Any) -> Any:
    # Executed on the session's connection (Core), not through the ORM: the rows are plain
    # columns either way, and the ORM's yield_per path cost 2.8x the time of this one on 1M
    # events (bench/snapshot_bench.py). yield_per makes it a server-side cursor on PostgreSQL.
    return session.connection().execute(query.execution_options(yield_per=STREAM_BATCH))


def _readable_dates(*columns: Any) -> list[Any]:
    """Dates outside row_checks' readable window stay in the store, out of the snapshot."""
    return [
        or_(column.is_(None), column.between(READABLE_FROM, READABLE_UNTIL)) for column in columns
    ]


def _count_unreadable(session: Session, skipped: SkippedRows) -> None:
    for name, table, columns in (
        ("items.dates", Item, (Item.published_at, Item.expires_at)),
        ("events.ts", Event, (Event.ts,)),
    ):
        readable = and_(*_readable_dates(*columns))
        count = session.scalar(select(func.count()).select_from(table).where(not_(readable)))
        if count:
            skipped[name] += count
