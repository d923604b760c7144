"""The live state reads by watermark: a steady state reads nothing, a bulk change is read once
(with no margin; the margin's re-reads are bounded in time), and what it holds is what the
store says: deletions, windows, consent, erasures, new users and their events."""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from trained_world import World

from api.live import LiveState
from api.store import freshness
from api.store.db import create_db_engine, make_session_factory, session_scope, snapshot_session
from api.store.events import insert_events
from api.store.snapshot import read_snapshot
from api.store.tables import Event, ModelVersion
from matching.model import TrainedModel


def _live(
    served: TestClient, world: World, margin: timedelta = timedelta(0)
) -> tuple[LiveState, partial]:  # type: ignore[type-arg]
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    engine = create_db_engine(world.settings.database_url)
    opener = partial(session_scope, make_session_factory(engine))
    return LiveState(model, margin=margin), opener


@contextmanager
def kept_snapshot_record(engine: Engine, version: str) -> Iterator[str | None]:
    """The version's recorded snapshot events (JSON), put back as they were afterwards: the
    world is shared by the module's tests."""
    this_version = ModelVersion.version == version
    with engine.connect() as connection:
        kept = connection.execute(
            select(ModelVersion.snapshot_events).where(this_version)
        ).scalar_one()
    try:
        yield kept
    finally:
        with engine.begin() as connection:
            connection.execute(
                update(ModelVersion).where(this_version).values(snapshot_events=kept)
            )


def test_a_steady_state_reads_nothing_and_a_bulk_change_is_read_once(
    served: TestClient, world: World
) -> None:
    live, opener = _live(served, world)
    live.poll(opener)
    first = live.rows_read
    live.poll(opener)
    assert live.rows_read == first  # nothing changed: nothing read
    bulk = [{"id": f"bulk-{i}", "title": f"新品 {i}", "tags": {"kw:瑜伽": 1.0}} for i in range(40)]
    assert served.put("/v1/items", json={"items": bulk}).status_code == 200
    assert live.poll(opener) is True
    assert live.rows_read == first + 40
    live.poll(opener)
    assert live.rows_read == first + 40  # read once, not per poll
    assert live.item("bulk-7").exists and live.item("bulk-7").title == "新品 7"


def test_it_holds_what_the_store_says(served: TestClient, world: World) -> None:
    live, opener = _live(served, world)
    live.poll(opener)
    items = [i.id for i in world.catalogue.items]
    users = world.warm_users()
    gone, later, user_erased, user_withdrawn = items[10], items[11], users[-1], users[-2]
    rows_of = live.model.users.index
    before, _ = live.allowed_users(consent_only=True)  # cached until the state changes
    assert before[rows_of(user_withdrawn)] and before[rows_of(user_erased)]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    now = datetime.now(UTC).timestamp()
    assert served.delete(f"/v1/items/{gone}").status_code == 204
    assert served.put("/v1/items", json={"items": [{"id": later, "published_at": soon}]}).is_success
    body = {"users": [{"id": user_withdrawn, "consent": {"push": False}}, {"id": "brand-new"}]}
    assert served.put("/v1/users", json=body).is_success
    assert served.delete(f"/v1/users/{user_erased}").status_code == 204
    event = {"id": "ls-1", "user_id": "brand-new", "item_id": items[0], "type": "view",
             "ts": datetime.now(UTC).isoformat()}  # fmt: skip
    assert served.post("/v1/events", json={"events": [event]}).is_success
    live.poll(opener)

    model = live.model
    mask, rows = live.available_items(now)
    assert not mask[model.items.index(gone)] and not mask[model.items.index(later)]
    assert rows is not None and model.items.index(items[0]) in rows
    assert not live.item(gone).exists
    consent = live.user_mask(consent_only=True)
    assert not consent[model.users.index(user_withdrawn)]
    assert not live.user_mask(consent_only=False)[model.users.index(user_erased)]
    allowed, allowed_rows = live.allowed_users(consent_only=True)
    assert not allowed[rows_of(user_withdrawn)] and not allowed[rows_of(user_erased)]
    assert allowed_rows is not None and rows_of(user_erased) not in allowed_rows
    assert not live.user(user_erased).exists
    newcomer = live.user("brand-new")
    assert newcomer.exists and newcomer.row is None
    assert newcomer.recent_item_ids == {items[0]}
    assert "brand-new" in live.users_who_saw(items[0])
    # Erased, then re-created: someone new, whom the old history must not describe.
    assert served.put("/v1/users", json={"users": [{"id": user_erased}]}).is_success
    live.poll(opener)
    again = live.user(user_erased)
    assert again.exists and again.row is None


def test_an_event_committed_after_a_later_one_is_still_read(
    served: TestClient, world: World
) -> None:
    """PostgreSQL hands out ids at insert and commits in any order: the id the poll skipped
    is asked for again until it commits, and no longer (SQLite commits in id order: nothing
    to test)."""
    if not world.settings.database_url.startswith("postgresql"):
        return
    live, opener = _live(served, world, margin=timedelta(seconds=30))
    live.poll(opener)
    user, item = world.warm_users()[3], world.catalogue.items[5].id
    engine = create_db_engine(world.settings.database_url)
    factory = make_session_factory(engine)

    def record(event_id: str) -> dict[str, object]:
        return {"event_id": event_id, "user_id": user, "item_id": item, "type": "view",
                "value": None, "ts": datetime.now(UTC)}  # fmt: skip

    slow = factory()
    try:
        insert_events(slow, [record("gap-slow")])  # takes an id, does not commit yet
        with session_scope(factory) as fast:
            insert_events(fast, [record("gap-fast")])
        live.poll(opener)
        assert len(live.user(user).recent) == 1  # the fast one; the slow id is pending
        slow.commit()
    finally:
        slow.close()
        engine.dispose()
    live.poll(opener)
    assert len(live.user(user).recent) == 2
    read_events, this_thread = freshness.events_outside_snapshot, threading.current_thread()
    asked: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        rows = read_events(*args, **kwargs)
        if threading.current_thread() is this_thread:  # not the served app's own poller
            asked.append(len(rows))
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(freshness, "events_outside_snapshot", counted)
        live.poll(opener)
    assert asked == [0]  # a gap that filled is not asked for again


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "not-recorded"])
def test_a_load_just_before_training_is_read_once_after_the_swap(
    served: TestClient, world: World, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    """A bulk load then a training run: the whole load lies inside the margin before the
    snapshot. The training run recorded which events its snapshot read, so the first read
    after the swap reads only the others. A version without that record (trained before it
    existed) reads the load once and finds the model holds it; a write in flight during that
    read began inside the margin before the read, so only gaps among ids newer than that are
    asked for again: the load is not re-read on every poll."""
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    snapshot = datetime.fromtimestamp(model.snapshot_time, UTC)
    margin = timedelta(seconds=0.2)
    events_read: list[int] = []
    read_events = freshness.events_outside_snapshot

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        rows = read_events(*args, **kwargs)
        if threading.current_thread() is this_thread:  # not the served app's own poller
            events_read.append(len(rows))
        return rows

    this_thread = threading.current_thread()

    monkeypatch.setattr(freshness, "events_outside_snapshot", counted)
    engine = create_db_engine(world.settings.database_url)
    stamps = {}
    this_version = ModelVersion.version == model.version
    with kept_snapshot_record(engine, model.version) as kept:
        held = freshness.SnapshotEvents.from_json(kept)
        assert held is not None and held.missing == ()  # nothing was in flight or deleted
        try:
            with engine.begin() as connection:
                stamps = dict(connection.execute(select(Event.pk, Event.ingested_at)).all())
                loaded_at = snapshot - margin / 2  # inside the margin before the snapshot
                connection.execute(update(Event).values(ingested_at=loaded_at))
                if not recorded:
                    unrecorded = update(ModelVersion).values(snapshot_events=None)
                    connection.execute(unrecorded.where(this_version))
            time.sleep(max(0.0, (snapshot + 3 * margin - datetime.now(UTC)).total_seconds()))
            live = LiveState(model, margin=margin)
            opener = partial(session_scope, make_session_factory(engine))
            for _ in range(3):
                live.poll(opener)
            # Other tests of this module added events since the training run (ids above it).
            since_training = len([pk for pk in stamps if pk > held.through])
            assert events_read[0] == (since_training if recorded else len(stamps))  # read once
            assert events_read[1:] == [0, 0]  # not again
            assert live.user(world.warm_users()[0]).recent == ()  # the snapshot holds all of it
        finally:
            with engine.begin() as connection:  # the shared world as it was
                for pk, stamp in stamps.items():
                    connection.execute(
                        update(Event).where(Event.pk == pk).values(ingested_at=stamp)
                    )
        engine.dispose()


def test_a_first_read_with_nothing_new_still_moves_the_watermark(
    served: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When nothing is outside the snapshot, later polls ask only for ids above the newest
    one: a watermark left at 0 made every poll scan the whole event table."""
    asked: list[int | None] = []
    read_events = freshness.events_outside_snapshot
    this_thread = threading.current_thread()

    def recorded(*args: Any, **kwargs: Any) -> list[Any]:
        if threading.current_thread() is this_thread:
            asked.append(kwargs["after_pk"])
        return read_events(*args, **kwargs)

    monkeypatch.setattr(freshness, "events_outside_snapshot", recorded)
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    long_before = datetime.fromtimestamp(model.snapshot_time, UTC) - timedelta(hours=1)
    engine = create_db_engine(world.settings.database_url)
    stamps = {}
    try:
        with engine.begin() as connection:
            stamps = dict(connection.execute(select(Event.pk, Event.ingested_at)).all())
            connection.execute(update(Event).values(ingested_at=long_before))
        live, opener = _live(served, world)
        live.poll(opener)
        live.poll(opener)
        assert asked[0] is None and asked[1] is not None and asked[1] >= max(stamps)
    finally:
        with engine.begin() as connection:  # the shared world as it was
            for pk, stamp in stamps.items():
                connection.execute(update(Event).where(Event.pk == pk).values(ingested_at=stamp))
        engine.dispose()


def test_a_write_open_during_the_snapshot_is_read_when_it_commits(
    served: TestClient, world: World
) -> None:
    """PostgreSQL: a write that took its id before the snapshot began and commits after it is
    invisible to the snapshot although a newer id is not. The snapshot records that id as
    missing, so serving reads it once it commits, though it is dated before the snapshot and
    its id lies below the newest the snapshot read (SQLite commits in id order)."""
    if not world.settings.database_url.startswith("postgresql"):
        return
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    user, item = world.warm_users()[5], world.catalogue.items[6].id
    dated = datetime.fromtimestamp(model.snapshot_time, UTC) - timedelta(hours=1)
    engine = create_db_engine(world.settings.database_url)
    factory = make_session_factory(engine)
    this_version = ModelVersion.version == model.version

    def record(event_id: str) -> dict[str, object]:
        return {"event_id": event_id, "user_id": user, "item_id": item, "type": "view",
                "value": None, "ts": dated}  # fmt: skip

    with kept_snapshot_record(engine, model.version):
        slow = factory()
        try:
            insert_events(slow, [record("open-slow")])  # takes an id, does not commit yet
            with session_scope(factory) as fast:
                insert_events(fast, [record("open-fast")])
            read_ids: array[int] = array("q")
            now = datetime.now(UTC)
            with snapshot_session(engine) as session:
                read_snapshot(session, now, read_ids=read_ids)
                held = freshness.read_snapshot_events(
                    session, now, np.frombuffer(read_ids, np.int64)
                )
            with engine.begin() as connection:  # as if the model had been trained on it
                connection.execute(
                    update(ModelVersion).where(this_version).values(snapshot_events=held.as_json())
                )
            live, opener = _live(served, world, margin=timedelta(seconds=30))
            live.poll(opener)
            assert live.user(user).recent == ()  # the fast one is held; the slow one is open
            slow.commit()
            slow_pk = slow.scalar(select(Event.pk).where(Event.event_id == "open-slow"))
            assert held is not None and held.through > slow_pk
            live.poll(opener)
            assert [event.pk for event in live.user(user).recent] == [slow_pk]
        finally:
            slow.close()
            engine.dispose()


def test_a_poll_holds_no_write_lock(
    served: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the live state's polls only read, so they begin deferred. Begun IMMEDIATE (the
    default session), every worker's first read of a new model held the write lock for
    seconds after a bulk load, and writers queued behind it until "database is locked"."""
    if not world.settings.database_url.startswith("sqlite"):
        return
    impatient = create_db_engine(world.settings.database_url, busy_timeout_ms=0)
    read_events = freshness.events_outside_snapshot
    wrote: list[bool] = []

    me = threading.get_ident()  # the app's own poller reads meanwhile: not counted

    def write_meanwhile(*args: Any, **kwargs: Any) -> list[Any]:
        rows = read_events(*args, **kwargs)
        if threading.get_ident() != me:
            return rows
        with impatient.begin() as connection:  # fails at once if the poll holds the lock
            connection.execute(update(Event).where(Event.pk == -1).values(value=None))
        wrote.append(True)
        return rows

    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    live = LiveState(model, margin=timedelta(0))
    monkeypatch.setattr(freshness, "events_outside_snapshot", write_meanwhile)
    try:
        live.poll(served.app.state.read_live)  # type: ignore[attr-defined]
    finally:
        impatient.dispose()
    assert wrote == [True]
