"""read_snapshot: the store as the training job sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from api.store import events, items, users
from api.store.db import SessionFactory, session_scope, snapshot_session
from api.store.snapshot import read_snapshot

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
