"""Read the whole store into a matching.data.Snapshot for a training run, streaming."""

from __future__ import annotations

from array import array
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store.tables import Event, Item, User
from matching.data import EventLog, ItemRecord, Snapshot, UserRecord
from matching.vocabulary import Vocabulary

STREAM_BATCH = 20_000


def read_snapshot(session: Session, now: datetime) -> Snapshot:
    """All users, the items not deleted, and the events between them up to `now`.

    Rows are streamed (yield_per; a server-side cursor on PostgreSQL), and events go straight
    into typed arrays, so a million events never become a million objects. Use a
    `db.snapshot_session` so the three reads see one consistent state of the store.
    """
    users = [
        UserRecord(
            id=row.id,
            attributes=dict(row.attributes or {}),
            tags=_weights(row.tags),
            push_consent=bool(row.push_consent),
        )
        for row in _stream(
            session,
            select(User.id, User.attributes, User.tags, User.push_consent).order_by(User.id),
        )
    ]
    items = [
        ItemRecord(
            id=row.id,
            title=row.title or "",
            text=row.text or "",
            tags=_weights(row.tags),
            category=row.category,
            published_at=_epoch(row.published_at),
            expires_at=_epoch(row.expires_at),
        )
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
            .where(Item.deleted.is_(False))
            .order_by(Item.id),
        )
    ]
    user_vocab = Vocabulary.from_list([user.id for user in users])
    item_vocab = Vocabulary.from_list([item.id for item in items])
    return Snapshot(
        users=users,
        items=items,
        events=_read_events(session, now, user_vocab, item_vocab),
        now=now.timestamp(),
    )


def _read_events(
    session: Session, now: datetime, user_vocab: Vocabulary, item_vocab: Vocabulary
) -> EventLog:
    user_rows, item_rows, type_codes = array("i"), array("i"), array("h")
    values, times = array("f"), array("d")
    type_index: dict[str, int] = {}
    query = (
        select(Event.user_id, Event.item_id, Event.type, Event.value, Event.ts)
        .where(Event.ts <= now)
        .order_by(Event.pk)
    )
    user_row, item_row = user_vocab.index, item_vocab.index
    for user_id, item_id, event_type, value, ts in _stream(session, query):
        item = item_row(item_id)
        if item is None:  # the item was deleted
            continue
        user = user_row(user_id)
        if user is None:  # the user was created after the users were read
            continue
        user_rows.append(user)
        item_rows.append(item)
        type_codes.append(type_index.setdefault(event_type, len(type_index)))
        values.append(0.0 if value is None else value)
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


def _weights(tags: Any) -> dict[str, float]:
    return {str(tag): float(weight) for tag, weight in (tags or {}).items()}


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
