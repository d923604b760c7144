"""read_snapshot: the store as the training job sees it."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, delete, select

from api.store import events, items, users
from api.store.db import SessionFactory, session_scope, snapshot_session
from api.store.freshness import (
    MAX_MISSING_RANGES,
    SnapshotEvents,
    read_snapshot_events,
)
from api.store.snapshot import read_snapshot
from api.store.tables import Event

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event(event_id: str, user: str, item: str, hours: int, kind: str = "view", value=None):  # type: ignore[no-untyped-def]
    return {
        "event_id": event_id,
        "user_id": user,
        "item_id": item,
        "type": kind,
        "value": value,
        "ts": T0 + timedelta(hours=hours),
    }


def test_snapshot_holds_users_live_items_and_their_events(
    engine: Engine, session_factory: SessionFactory
) -> None:
    with session_scope(session_factory) as s:
        users.upsert_users(
            s,
            [
                {
                    "id": "u1",
                    "attributes": {"age": 30},
                    "tags": {"kw:瑜伽": 0.5},
                    "push_consent": True,
                },
                {"id": "u2"},
                {"id": "u3"},  # no events: still in the snapshot (cold start)
            ],
        )
        items.upsert_items(
            s,
            [
                {
                    "id": "i1",
                    "title": "t",
                    "tags": {"cat:a": 1.0},
                    "category": "a",
                    "published_at": T0,
                    "expires_at": T0 + timedelta(days=30),
                },
                {"id": "i2"},
                {"id": "gone"},
            ],
        )
        events.insert_events(
            s,
            [
                _event("e1", "u1", "i1", 0, "rating", 4.0),
                _event("e2", "u2", "i1", 1, "click"),
                _event("e3", "u1", "i2", 2),
                _event("e4", "u2", "gone", 3),  # item deleted below: dropped
                _event("e5", "u1", "i2", 100),  # after `now`: dropped
            ],
        )
        items.soft_delete_item(s, "gone")

    now = T0 + timedelta(hours=10)
    with snapshot_session(engine) as s:
        snapshot = read_snapshot(s, now)

    assert [u.id for u in snapshot.users] == ["u1", "u2", "u3"]
    assert [i.id for i in snapshot.items] == ["i1", "i2"]
    u1, i1 = snapshot.users[0], snapshot.items[0]
    assert u1.attributes == {"age": 30} and u1.tags == {"kw:瑜伽": 0.5} and u1.push_consent
    assert i1.tags == {"cat:a": 1.0} and i1.category == "a"
    assert i1.published_at == T0.timestamp()
    assert i1.expires_at == (T0 + timedelta(days=30)).timestamp()
    assert snapshot.now == now.timestamp()

    log = snapshot.events
    assert len(log) == 3
    got = sorted(
        (
            snapshot.user_vocab.id(int(u)),
            snapshot.item_vocab.id(int(i)),
            log.type_names[int(c)],
            float(v),
            float(t),
        )
        for u, i, c, v, t in zip(log.user, log.item, log.type_code, log.value, log.ts, strict=True)
    )
    assert got == [
        ("u1", "i1", "rating", 4.0, T0.timestamp()),
        ("u1", "i2", "view", 0.0, (T0 + timedelta(hours=2)).timestamp()),
        ("u2", "i1", "click", 0.0, (T0 + timedelta(hours=1)).timestamp()),
    ]
    assert log.user.dtype == np.int32 and log.ts.dtype == np.float64


def test_empty_store_gives_an_empty_snapshot(engine: Engine) -> None:
    with snapshot_session(engine) as s:
        snapshot = read_snapshot(s, T0)
    assert snapshot.n_users == 0 and snapshot.n_items == 0 and len(snapshot.events) == 0


def test_the_snapshot_records_exactly_which_event_ids_it_read(
    engine: Engine, session_factory: SessionFactory
) -> None:
    """Serving reads what a model does not hold by id: every id up to the newest the snapshot
    saw, except those it did not read (deleted here, or dated after it)."""
    now = datetime.now(UTC)
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": "u1"}])
        items.upsert_items(s, [{"id": "i1"}])
        records = [_event(f"e{n}", "u1", "i1", n) for n in range(5)]
        records.append({**_event("later", "u1", "i1", 0), "ts": now + timedelta(days=1)})
        records.append(_event("last", "u1", "i1", 6))
        events.insert_events(s, records)
    with engine.begin() as connection:
        pks = dict(connection.execute(select(Event.event_id, Event.pk)).all())
        connection.execute(delete(Event).where(Event.event_id == "e2"))
    read_ids: array[int] = array("q")
    with snapshot_session(engine) as session:
        read_snapshot(session, now, read_ids=read_ids)
        held = read_snapshot_events(session, now, np.frombuffer(read_ids, np.int64))
    assert held is not None
    assert held.through == pks["last"]
    assert held.missing == ((pks["e2"], pks["e2"]), (pks["later"], pks["later"]))
    assert SnapshotEvents.from_json(held.as_json()) == held


def test_missing_ids_are_listed_above_the_floor_and_never_too_many() -> None:
    ids = np.array([1, 2, 5, 6, 9, 12], np.int64)
    assert SnapshotEvents.of(ids, through=14, floor=0).missing == (
        (3, 4),
        (7, 8),
        (10, 11),
        (13, 14),
    )
    # Below the floor no write was still open: gaps there are not asked for again.
    assert SnapshotEvents.of(ids, through=12, floor=6).missing == ((7, 8), (10, 11))
    assert SnapshotEvents.of(np.zeros(0, np.int64), through=0, floor=0) == SnapshotEvents(0, ())
    scattered = np.arange(1, 4 * MAX_MISSING_RANGES, 2, dtype=np.int64)
    assert SnapshotEvents.of(scattered, through=int(scattered[-1]), floor=0) is None
