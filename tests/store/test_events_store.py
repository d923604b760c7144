"""Events: idempotent bulk insert, on-the-fly users/items, per-user reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.store import events, items, users
from api.store.bulk import CHUNK
from api.store.db import SessionFactory, session_scope
from api.store.freshness import SNAPSHOT_MARGIN

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event(
    event_id: str, user_id: str = "u1", item_id: str = "i1", minutes: int = 0, **extra: object
) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": event_id,
        "user_id": user_id,
        "item_id": item_id,
        "type": "view",
        "value": None,
        "ts": T0 + timedelta(minutes=minutes),
    }
    return record | extra


def test_resend_is_counted_as_duplicate_not_stored_twice(session_factory: SessionFactory) -> None:
    batch = [_event("e1"), _event("e2", item_id="i2")]
    with session_scope(session_factory) as s:
        first = events.insert_events(s, batch)
    with session_scope(session_factory) as s:
        again = events.insert_events(s, [*batch, _event("e3")])
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 2)
    with session_scope(session_factory) as s:
        assert events.count_events(s) == 3


def test_same_id_twice_in_one_batch_keeps_the_first(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        result = events.insert_events(
            s, [_event("e1", item_id="first"), _event("e1", item_id="second")]
        )
    assert (result.accepted, result.duplicates) == (1, 1)
    with session_scope(session_factory) as s:
        assert [e.item_id for e in events.events_of_user(s, "u1")] == ["first"]


def test_unknown_users_and_items_are_created_on_the_fly(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": "known", "tags": {"t": 1.0}}])
        events.insert_events(s, [_event("e1", "known", "新文章"), _event("e2", "新用户", "新文章")])
    with session_scope(session_factory) as s:
        known = users.get_user(s, "known")
        assert known is not None and known.tags == {"t": 1.0}
        assert users.get_user(s, "新用户") is not None
        assert items.get_item(s, "新文章") is not None


def test_batches_larger_than_one_chunk(session_factory: SessionFactory) -> None:
    n = CHUNK + 7
    batch = [_event(f"e{i}", f"u{i % 13}", f"i{i % 29}", minutes=i) for i in range(n)]
    with session_scope(session_factory) as s:
        result = events.insert_events(s, batch)
    assert (result.accepted, result.duplicates) == (n, 0)
    with session_scope(session_factory) as s:
        again = events.insert_events(s, batch[-10:])
        assert (again.accepted, again.duplicates) == (0, 10)
        assert events.count_events(s) == n


def test_reads_for_serving(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        events.insert_events(
            s,
            [
                _event("e1", "u1", "a", minutes=0, type="click", value=2.5),
                _event("e2", "u1", "b", minutes=10),
                _event("e3", "u1", "b", minutes=20),
                _event("e4", "u2", "a", minutes=30),
            ],
        )
    with session_scope(session_factory) as s:
        newest_first = events.events_of_user(s, "u1")
        assert [e.event_id for e in newest_first] == ["e3", "e2", "e1"]
        assert newest_first[-1].value == 2.5 and newest_first[-1].type == "click"
        assert newest_first[0].ts == T0 + timedelta(minutes=20)
        assert [e.event_id for e in events.events_of_user(s, "u1", limit=1)] == ["e3"]
        since = T0 + timedelta(minutes=5)
        assert [e.event_id for e in events.events_of_user(s, "u1", since=since)] == ["e3", "e2"]
        assert events.seen_item_ids(s, "u1") == {"a", "b"}
        assert events.seen_item_ids(s, "nobody") == set()
        assert events.users_who_saw_item(s, "a") == {"u1", "u2"}


def test_events_outside_a_snapshot_are_found_by_arrival_not_by_date(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model trained on a snapshot at S knows every event the store had then; serving must
    add the rest: late arrivals dated before S, events dated after S, and (within the margin)
    those whose transaction may have committed just after S began."""
    snapshot = T0 + timedelta(days=1)

    def insert_at(received: datetime, batch: list[dict[str, object]]) -> None:
        monkeypatch.setattr(events, "utcnow", lambda: received)
        with session_scope(session_factory) as s:
            events.insert_events(s, batch)

    insert_at(snapshot - timedelta(hours=2), [_event("known", "u1", "a")])
    insert_at(snapshot - timedelta(hours=2), [_event("future", "u1", "f", minutes=3 * 24 * 60)])
    insert_at(snapshot - SNAPSHOT_MARGIN / 2, [_event("racing", "u1", "r")])
    insert_at(snapshot + timedelta(hours=1), [_event("late", "u1", "l"), _event("x", "u2", "a")])
    with session_scope(session_factory) as s:
        assert events.seen_item_ids(s, "u1") == {"a", "f", "r", "l"}
        assert events.seen_item_ids(s, "u1", outside_snapshot=snapshot) == {"f", "r", "l"}
        assert events.users_who_saw_item(s, "a") == {"u1", "u2"}
        assert events.users_who_saw_item(s, "a", outside_snapshot=snapshot) == {"u2"}
