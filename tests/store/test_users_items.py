"""Users and items: bulk upsert semantics, on-the-fly creation, erasure, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api.pseudonyms import person_ref
from api.store import events, freshness, items, users
from api.store.db import SessionFactory, session_scope
from api.store.tables import Erasure, Event, Item, User

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_upsert_inserts_then_replaces_only_the_fields_sent(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        n = users.upsert_users(
            s,
            [
                {"id": "u1", "attributes": {"age": 31}, "tags": {"a": 1.0}, "push_consent": True},
                {"id": "u2"},
            ],
        )
        assert n == 2
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": "u1", "tags": {"b": 0.5}}])
    with session_scope(session_factory) as s:
        u1, u2 = users.get_user(s, "u1"), users.get_user(s, "u2")
        assert u1 is not None and u2 is not None
        assert u1.tags == {"b": 0.5}
        assert u1.attributes == {"age": 31} and u1.push_consent is True
        assert u1.updated_at >= u1.created_at and u1.created_at.tzinfo is not None
        assert (u2.attributes, u2.tags, u2.push_consent) == ({}, {}, False)


def test_same_id_twice_in_one_batch_merges_in_order(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        n = users.upsert_users(
            s,
            [
                {"id": "u1", "tags": {"old": 1.0}, "push_consent": True},
                {"id": "u1", "tags": {"new": 1.0}},
            ],
        )
        assert n == 1
    with session_scope(session_factory) as s:
        u1 = users.get_user(s, "u1")
        assert u1 is not None and u1.tags == {"new": 1.0} and u1.push_consent is True


def test_unicode_ids_and_tags_round_trip(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": "用户-上海-1", "tags": {"kw:瑜伽": 0.8, "region:上海": 1.0}}])
        items.upsert_items(s, [{"id": "文章1", "title": "瑜伽入门", "tags": {"cat:运动": 1.0}}])
    with session_scope(session_factory) as s:
        user = users.get_user(s, "用户-上海-1")
        item = items.get_item(s, "文章1")
        assert user is not None and user.tags == {"kw:瑜伽": 0.8, "region:上海": 1.0}
        assert item is not None and item.title == "瑜伽入门" and item.tags == {"cat:运动": 1.0}


def test_ensure_creates_missing_and_leaves_existing_alone(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        users.upsert_users(s, [{"id": "u1", "tags": {"keep": 1.0}}])
        items.upsert_items(s, [{"id": "i1", "title": "kept"}])
    with session_scope(session_factory) as s:
        users.ensure_users(s, ["u1", "u2", "u2"])
        items.ensure_items(s, ["i1", "i2"])
    with session_scope(session_factory) as s:
        assert set(users.get_users(s, ["u1", "u2", "u3"])) == {"u1", "u2"}
        assert users.get_users(s, []) == {}
        u1, i1 = users.get_user(s, "u1"), items.get_item(s, "i1")
        assert u1 is not None and u1.tags == {"keep": 1.0}
        assert i1 is not None and i1.title == "kept" and items.get_item(s, "i2") is not None


def test_erasure_removes_user_and_events_and_leaves_a_tombstone(
    session_factory: SessionFactory,
) -> None:
    with session_scope(session_factory) as s:
        events.insert_events(
            s,
            [
                _event("e1", "gone", "i1"),
                _event("e2", "gone", "i2"),
                _event("e3", "stays", "i1"),
            ],
        )
    before = datetime.now(UTC) - timedelta(seconds=1)
    with session_scope(session_factory) as s:
        assert users.erase_user(s, "gone") is True
        assert users.erase_user(s, "never-existed") is False
    with session_scope(session_factory) as s:
        assert users.get_user(s, "gone") is None
        assert {e.event_id for e in s.query(Event)} == {"e3"}
        assert users.erased_refs_since(s, before) == {person_ref("gone")}
        assert users.erased_refs_since(s, datetime.now(UTC) + timedelta(hours=1)) == set()
        assert s.query(Erasure).count() == 1 and s.query(User).count() == 1


def test_soft_delete_hides_item_and_upsert_publishes_it_again(
    session_factory: SessionFactory,
) -> None:
    with session_scope(session_factory) as s:
        items.upsert_items(
            s,
            [
                {"id": "live", "title": "a"},
                {"id": "dead", "title": "b"},
                {"id": "old", "expires_at": T0 - timedelta(days=1)},
                {"id": "later", "expires_at": T0 + timedelta(days=1)},
            ],
        )
    with session_scope(session_factory) as s:
        assert items.soft_delete_item(s, "dead") is True
        assert items.soft_delete_item(s, "dead") is False
        assert items.soft_delete_item(s, "missing") is False
    with session_scope(session_factory) as s:
        assert items.get_item(s, "dead") is None
        dead = items.get_item(s, "dead", include_deleted=True)
        assert dead is not None and dead.deleted
        assert items.deleted_item_ids(s) == {"dead"}
        assert items.expired_item_ids(s, T0) == {"old"}
        assert items.unavailable_item_ids(s, T0) == {"dead", "old"}
        assert [row[0] for row in items.iter_item_texts(s)] == ["later", "live", "old"]
    with session_scope(session_factory) as s:
        items.upsert_items(s, [{"id": "dead", "text": "back"}])
    with session_scope(session_factory) as s:
        back = items.get_item(s, "dead")
        assert back is not None and back.title == "b" and back.text == "back"


def test_keywords_are_stored_in_bulk(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as s:
        items.upsert_items(s, [{"id": "i1"}, {"id": "i2"}])
        items.set_item_keywords(s, {"i1": [["瑜伽", 1.0], ["入门", 0.5]], "i2": []})
    with session_scope(session_factory) as s:
        i1, i2 = items.get_item(s, "i1"), items.get_item(s, "i2")
        assert i1 is not None and i1.keywords == [["瑜伽", 1.0], ["入门", 0.5]]
        assert i2 is not None and i2.keywords == []


def _event(event_id: str, user_id: str, item_id: str, minutes: int = 0) -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": user_id,
        "item_id": item_id,
        "type": "view",
        "value": None,
        "ts": T0 + timedelta(minutes=minutes),
    }


def test_change_stamps_move_only_when_servability_or_consent_changes(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving re-reads what changed since a model's snapshot on every request: re-sending an
    unchanged catalogue or profile (a nightly sync) must not put every record in that read."""
    snapshot = T0 + timedelta(days=1)
    clock = {"now": T0}
    monkeypatch.setattr(items, "utcnow", lambda: clock["now"])
    monkeypatch.setattr(users, "utcnow", lambda: clock["now"])
    expiry = T0 + timedelta(days=30)

    def write(item_records: list[dict[str, Any]], user_records: list[dict[str, Any]]) -> None:
        with session_scope(session_factory) as s:
            items.upsert_items(s, item_records)
            users.upsert_users(s, user_records)

    catalogue = [
        {"id": "same", "title": "a", "expires_at": expiry},
        {"id": "extended", "title": "b", "expires_at": expiry},
        {"id": "deleted", "title": "c"},
        {"id": "revived", "title": "d"},
    ]
    profiles = [
        {"id": "u-same", "push_consent": True},
        {"id": "u-withdrawn", "push_consent": True},
        {"id": "u-retagged", "tags": {"t": 1.0}},
    ]
    write(catalogue, profiles)
    with session_scope(session_factory) as s:
        assert items.soft_delete_item(s, "revived")

    clock["now"] = snapshot + timedelta(hours=1)  # after training: a full re-send with edits
    catalogue[0]["title"] = "a, retitled"  # not a servability change
    catalogue[1]["expires_at"] = expiry + timedelta(days=1)
    profiles[1]["push_consent"] = False
    profiles[2]["tags"] = {"t": 0.5}
    write(catalogue, profiles)
    with session_scope(session_factory) as s:
        assert items.soft_delete_item(s, "deleted")
        window = select(Item.id, Item.deleted, Item.expires_at)
        changed = {r.id: r for r in s.execute(window.where(Item.window_changed_at >= snapshot))}
        assert set(changed) == {"extended", "deleted", "revived"}
        assert changed["deleted"].deleted and not changed["revived"].deleted
        assert changed["extended"].expires_at == expiry + timedelta(days=1)
        consent = select(User.id, User.push_consent).where(User.consent_changed_at >= snapshot)
        assert [tuple(r) for r in s.execute(consent)] == [("u-withdrawn", False)]
        # The live state follows updated_at, which every re-send moves (read once, not per
        # request): everything written after the snapshot.
        assert {c.id for c in freshness.items_changed(s, snapshot)} == set(changed) | {"same"}
