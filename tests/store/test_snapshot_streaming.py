"""read_snapshot streams: server-side cursors on PostgreSQL, chunked fetches, the same snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, event

from api.store import events, items, snapshot, users
from api.store.db import SessionFactory, session_scope, snapshot_session

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _fill(session_factory: SessionFactory, n_users: int, n_items: int, n_events: int) -> None:
    rng = np.random.default_rng(3)
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": f"u{k:03d}"} for k in range(n_users)])
        items.upsert_items(s, [{"id": f"i{k:03d}"} for k in range(n_items)])
        events.insert_events(
            s,
            [
                {
                    "event_id": f"e{k}",
                    "user_id": f"u{rng.integers(n_users):03d}",
                    "item_id": f"i{rng.integers(n_items):03d}",
                    "type": ("view", "click", "like")[k % 3],
                    "value": float(k % 5) if k % 2 else None,
                    "ts": T0 + timedelta(minutes=k),
                }
                for k in range(n_events)
            ],
        )


def test_snapshot_reads_in_chunks_and_server_side_on_postgresql(
    engine: Engine, session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(session_factory, n_users=7, n_items=5, n_events=23)
    now = T0 + timedelta(days=1)
    with snapshot_session(engine) as s:
        whole = snapshot.read_snapshot(s, now)

    cursors: list[str] = []

    def record_cursor(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        cursors.append(type(cursor).__name__)

    monkeypatch.setattr(snapshot, "STREAM_BATCH", 3)  # fewer rows than every table has
    event.listen(engine, "before_cursor_execute", record_cursor)
    try:
        with snapshot_session(engine) as s:
            chunked = snapshot.read_snapshot(s, now)
    finally:
        event.remove(engine, "before_cursor_execute", record_cursor)

    assert [u.id for u in chunked.users] == [u.id for u in whole.users]
    assert [i.id for i in chunked.items] == [i.id for i in whole.items]
    assert len(chunked.events) == 23
    for name in ("user", "item", "type_code", "value", "ts"):
        np.testing.assert_array_equal(getattr(chunked.events, name), getattr(whole.events, name))
    if engine.dialect.name == "postgresql":
        # users, items, events: each a named (server-side) cursor, so PostgreSQL sends rows
        # as they are fetched instead of the whole result at once.
        assert cursors.count("ServerCursor") >= 3, cursors
