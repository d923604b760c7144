"""After DELETE the id leaves the model directory, the served version included, without a
training run and without disturbing serving; a process loading a purged version from disk
answers everyone else as before. On SQLite and PostgreSQL, with real files and the real
purge process."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from test_erasure_models import add_person, erase_in_store, files_holding, store_dump
from trained_world import World

from api.app import create_app
from api.jobs.erasure_purger import ErasurePurger, run_purge_process
from api.jobs.lock import LOCKED_EXIT, TrainingLock
from api.jobs.model_upkeep import purge_due, purge_erased_users
from api.jobs.train import run_training
from api.pseudonyms import person_ref
from api.settings import Settings
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.pseudonym_key import load_pseudonym_key
from api.store.tables import Erasure
from matching.erasure import TOMBSTONE_PREFIX

PERSON = "erase-me-5d41c2"  # no other id contains it: a byte search is exact
WAIT_SECONDS = 120  # a ceiling on a loaded machine, not a measurement (bench/ measures)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the purge did not happen"
        time.sleep(0.05)


def answers(client: TestClient, world: World) -> dict[str, Any]:
    """What serving says to others: recommendations for warm users, an item's audience."""
    out: dict[str, Any] = {}
    for user in world.warm_users()[:4]:
        body = client.get(f"/v1/users/{user}/recommendations", params={"n": 10}).json()
        out[user] = [(i["item_id"], round(i["score"], 5)) for i in body["items"]]
    item = world.catalogue.items[-1].id  # one the person did not see
    body = client.get(f"/v1/items/{item}/audience", params={"n": 1000}).json()
    out["audience"] = [u["user_id"] for u in body["users"]]
    return out


def test_delete_purges_every_version_the_served_one_included(
    fresh_world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    """The issue's check: erase, then search the model directory (bytes) and a dump of the
    store for the id; also every log line written meanwhile, the purge process's included."""
    settings = fresh_world.settings.model_copy(update={"log_level": "INFO"})
    model_dir = settings.model_dir
    with TestClient(create_app(settings)) as client:
        add_person(client, fresh_world, PERSON)
        older = run_training(settings, force=True).version
        served = run_training(settings, force=True).version
        assert client.app.state.model_holder.refresh()  # type: ignore[attr-defined]
        assert sorted(p.parent.name for p in files_holding(model_dir, PERSON)) == sorted(
            [older, served]
        )
        before = answers(client, fresh_world)
        assert PERSON in before["audience"]
        # Training stored their recommendations and their places in items' audiences.
        stored = client.app.state.model_holder.current.precomputed  # type: ignore[attr-defined]
        person_row = client.app.state.model_holder.current.users.index(PERSON)  # type: ignore[attr-defined]
        slot = int(stored.user_slot[person_row])
        assert slot >= 0 and (np.asarray(stored.item_users) == person_row).any()
        capfd.readouterr()

        assert client.delete(f"/v1/users/{PERSON}").status_code == 204
        wait_until(lambda: files_holding(model_dir, PERSON) == [])
        assert PERSON not in store_dump(fresh_world)
        # This process still serves its in-memory copy of the served version, hiding them.
        assert client.get(f"/v1/users/{PERSON}").status_code == 404
        during = answers(client, fresh_world)
        assert during == {**before, "audience": [u for u in before["audience"] if u != PERSON]}
    captured = capfd.readouterr()
    # The test's HTTP client (httpx) logs the URLs it sends: not a line the service writes.
    logged = "\n".join(
        line
        for line in (captured.out + captured.err).splitlines()
        if '"logger": "httpx"' not in line
    )
    assert PERSON not in logged
    assert person_ref(PERSON) in logged  # the access log names them by pseudonym only
    assert "erased 1 users from model version" in logged  # the purge process's own line

    # A process that loads the purged version from disk finds tombstones, and answers
    # everyone else exactly as before: the tombstoned row is never a member of an audience.
    with TestClient(create_app(fresh_world.settings)) as reloaded:
        assert reloaded.app.state.model_holder.version == served  # type: ignore[attr-defined]
        model = reloaded.app.state.model_holder.current  # type: ignore[attr-defined]
        assert any(u.startswith(TOMBSTONE_PREFIX) for u in model.users)
        # ... and the purge blanked what training stored for them: no list, no audience place.
        purged = model.precomputed
        assert purged.user_slot[person_row] == -1 and (purged.user_items[slot] == -1).all()
        assert not (np.asarray(purged.item_users) == person_row).any()
        assert answers(reloaded, fresh_world) == during
        assert reloaded.get(f"/v1/users/{PERSON}").status_code == 404
        # Rolled back to the older, also purged version: the same holds.
        assert reloaded.post(f"/v1/models/{older}/activate").status_code == 200
        rolled = answers(reloaded, fresh_world)
        assert not [u for u in rolled["audience"] if u.startswith(TOMBSTONE_PREFIX)]
        assert PERSON not in rolled["audience"] and rolled["audience"]
        push = reloaded.post(
            "/v1/push-lists", json={"item_id": fresh_world.catalogue.items[-1].id, "size": 1000}
        )
        assert push.status_code == 201, push.text
        assert not [u for u in push.json()["users"] if u["user_id"].startswith(TOMBSTONE_PREFIX)]
    assert files_holding(model_dir, PERSON) == []


def _purger(settings: Settings, runs: list[int]) -> tuple[ErasurePurger, Callable[[], None]]:
    engine = create_db_engine(settings.database_url)
    factory = make_session_factory(engine)
    load_pseudonym_key(factory, settings.pseudonym_key)

    def run(s: Settings) -> int:
        code = run_purge_process(s)
        runs.append(code)
        return code

    return ErasurePurger(settings, factory, every=3600, run=run), engine.dispose


def test_a_crash_between_commit_and_purge_is_repaired_and_a_training_run_is_not_waited_on(
    fresh_world: World,
) -> None:
    """The erasure is committed but no purge ran (the process died): the next check anywhere
    purges. While a training run holds the lock, nothing is launched and nothing waits."""
    settings = fresh_world.settings
    person = fresh_world.warm_users()[0]
    runs: list[int] = []
    purger, dispose = _purger(settings, runs)
    try:
        assert purger.check() is None  # no erasure yet: no process launched
        erase_in_store(settings, person)
        assert files_holding(settings.model_dir, person)
        with TrainingLock.acquire(settings.model_dir):
            assert purger.check() is None and runs == []  # a run is on: it purges at its end
        assert purger.check() == 0 and runs == [0]
        assert files_holding(settings.model_dir, person) == []
        assert purger.check() is None and runs == [0]  # the watermark says: done
    finally:
        dispose()


def test_the_purge_process_waits_for_no_lock_and_says_so(fresh_world: World) -> None:
    settings = fresh_world.settings
    erase_in_store(settings, fresh_world.warm_users()[0])
    with TrainingLock.acquire(settings.model_dir):
        assert run_purge_process(settings) == LOCKED_EXIT
    assert run_purge_process(settings) == 0
    assert run_purge_process(settings) == 0  # nothing due: a no-op


def test_a_purge_is_due_until_one_covers_every_erasure(fresh_world: World) -> None:
    """The watermark holds the count beside the highest key: an erasure committed late with
    a lower key (PostgreSQL allocates keys before commit) still makes a purge due."""
    settings = fresh_world.settings
    engine = create_db_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        load_pseudonym_key(factory, None)
        assert not purge_due(factory, settings.model_dir)  # no erasures
        erase_in_store(settings, fresh_world.warm_users()[0])
        erase_in_store(settings, fresh_world.warm_users()[1])
        assert purge_due(factory, settings.model_dir)
        assert sum(purge_erased_users(factory, settings.model_dir).values()) == 2
        assert not purge_due(factory, settings.model_dir)
        with session_scope(factory) as session:
            late = {"pk": 1_000_000, "user_id": person_ref("x"), "erased_at": datetime.now(UTC)}
            session.execute(insert(Erasure), [late])
        assert purge_due(factory, settings.model_dir)
        purge_erased_users(factory, settings.model_dir)
        assert not purge_due(factory, settings.model_dir)
        with session_scope(factory) as session:
            lower = {"pk": 999_999, "user_id": person_ref("y"), "erased_at": datetime.now(UTC)}
            session.execute(insert(Erasure), [lower])
        assert purge_due(factory, settings.model_dir)
    finally:
        engine.dispose()


def test_a_failed_erasure_logs_no_id(settings: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    """A DELETE the store refuses (SQLite locked by another writer) is logged with the path
    pseudonymised and without the statement's parameters, which hold the id."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a held write lock with no wait is SQLite's")
    quick = settings.model_copy(update={"sqlite_busy_timeout_ms": 0, "log_level": "INFO"})
    with TestClient(create_app(quick)) as client:
        person = "mary.major@example.com"
        assert client.put("/v1/users", json={"users": [{"id": person}]}).status_code == 200
        capfd.readouterr()
        path = settings.database_url.removeprefix("sqlite:///")
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
            assert client.delete(f"/v1/users/{person}").status_code == 503
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        captured = capfd.readouterr()
    lines = [
        line
        for line in (captured.out + captured.err).splitlines()
        if '"logger": "httpx"' not in line
    ]
    assert any("store unavailable" in line for line in lines)
    assert not [line for line in lines if person in line]
    assert any(person_ref(person) in line for line in lines)


def test_store_errors_never_carry_statement_parameters(migrated_url: str) -> None:
    """An error message (logged by the error handlers) shows the SQL, not the values bound to
    it: those are ids and attributes of people who may be erased."""
    engine = create_db_engine(migrated_url)
    try:
        with pytest.raises(DBAPIError) as failure, engine.connect() as connection:
            connection.execute(text("SELECT id FROM no_such_table WHERE id = :id"), {"id": PERSON})
        assert "no_such_table" in str(failure.value) and PERSON not in str(failure.value)
    finally:
        engine.dispose()
