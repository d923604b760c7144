"""Erasure reaches the model directory, and old versions do not pile up: on SQLite and
PostgreSQL, through the real training job and `tagmatch models purge-erased`. (Serving's own
purge soon after DELETE: test_erasure_purge.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from store_dump import dump_text
from trained_world import World, active_version
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.jobs.lock import LOCKED_EXIT, TrainingLock
from api.jobs.model_upkeep import prune_old_versions, purge_erased_command
from api.jobs.train import run_training
from api.settings import Settings
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.models import set_active_version
from api.store.pseudonym_key import load_pseudonym_key
from api.store.users import erase_user
from matching.artifact import load_model
from matching.erasure import TOMBSTONE_PREFIX


def add_person(client: TestClient, world: World, person: str) -> None:
    """Six click events of `person` on the first six items, a day ago."""
    items = [item.id for item in world.catalogue.items[:6]]
    start = datetime.now(UTC) - timedelta(days=1)
    events = [
        {"id": f"{person}-{n}", "user_id": person, "item_id": item, "type": "click",
         "ts": (start + timedelta(minutes=n)).isoformat()}
        for n, item in enumerate(items)
    ]  # fmt: skip
    assert client.post("/v1/events", json={"events": events}).status_code == 200


@pytest.fixture
def client(fresh_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(fresh_world.settings)) as test_client:
        yield test_client


def erase_in_store(settings: Settings, user_id: str) -> None:
    """DELETE's store write alone, as a process that died before its purge left it."""
    engine = create_db_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        load_pseudonym_key(factory, settings.pseudonym_key)
        with session_scope(factory) as session:
            assert erase_user(session, user_id)
    finally:
        engine.dispose()


def files_holding(directory: Path, needle: str) -> list[Path]:
    """Every file under `directory` whose bytes contain `needle` (UTF-8)."""
    raw = needle.encode()
    return [p for p in directory.rglob("*") if p.is_file() and raw in p.read_bytes()]


def store_dump(world: World) -> str:
    engine = create_db_engine(world.settings.database_url)
    try:
        return dump_text(engine)
    finally:
        engine.dispose()


def listed_status(client: TestClient) -> dict[str, str]:
    return {m["version"]: m["status"] for m in client.get("/v1/models").json()["models"]}


def test_after_erasure_and_a_training_run_the_id_is_nowhere(
    client: TestClient, fresh_world: World
) -> None:
    person = "erase-me-7f3a9c"  # an id no other id contains, so a byte search is exact
    add_person(client, fresh_world, person)
    with_person = run_training(fresh_world.settings, force=True).version
    model_dir = fresh_world.settings.model_dir
    assert files_holding(model_dir, person) == [model_dir / with_person / "users.json"]

    assert client.delete(f"/v1/users/{person}").status_code == 204
    assert person not in store_dump(fresh_world)
    # Serving purges it within seconds (test_erasure_purge.py); the run purges it too.
    after = run_training(fresh_world.settings, force=True).version
    assert active_version(fresh_world.settings) == after
    assert files_holding(model_dir, person) == []
    assert person not in store_dump(fresh_world)
    # The older version is still whole and loadable; the person's row is a tombstone.
    older = load_model(model_dir / with_person, mmap=False)
    erased_rows = [r for r, u in enumerate(older.users) if u.startswith(TOMBSTONE_PREFIX)]
    assert len(erased_rows) == 1
    assert not older.user_vectors[erased_rows].any() and not older.user_consent[erased_rows].any()
    kept = [r for r in range(len(older.users)) if r not in erased_rows]
    assert np.abs(older.user_vectors[kept]).sum() > 0
    assert client.post(f"/v1/models/{with_person}/activate").status_code == 200
    assert client.get(f"/v1/users/{person}").status_code == 404  # no row answers for them


def test_retention_deletes_old_versions_but_never_the_active_or_newest(
    client: TestClient, fresh_world: World
) -> None:
    first = fresh_world.version
    second = run_training(fresh_world.settings, force=True).version
    third = run_training(fresh_world.settings, force=True).version  # default retention: 3
    model_dir = fresh_world.settings.model_dir
    assert all((model_dir / v).is_dir() for v in (first, second, third))
    assert client.post(f"/v1/models/{first}/activate").status_code == 200  # roll back

    keep_one = fresh_world.settings.model_copy(update={"model_retention": 1})
    outcome = purge_erased_command(keep_one)
    assert outcome.pruned == [second]
    assert not (model_dir / second).exists()
    assert (model_dir / first).is_dir() and (model_dir / third).is_dir()
    assert listed_status(client) == {first: "active", second: "pruned", third: "retired"}
    assert client.post(f"/v1/models/{second}/activate").status_code == 409

    # The training job applies the same count after its run: only the new version stays.
    fourth = run_training(keep_one, force=True).version
    assert sorted(p.name for p in model_dir.iterdir() if not p.name.startswith(".")) == [fourth]
    statuses = listed_status(client)
    assert statuses[fourth] == "active"
    assert {statuses[v] for v in (first, second, third)} == {"pruned"}


def test_the_purge_command_erases_from_every_version_the_served_one_included(
    fresh_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, first = fresh_world.settings, fresh_world.version
    second = run_training(settings, force=True).version  # `first` is inactive now
    person = fresh_world.warm_users()[0]

    def users_of(version: str) -> list[str]:
        ids: list[str] = json.loads((settings.model_dir / version / "users.json").read_text())
        return ids

    assert person in users_of(first) and person in users_of(second)
    erase_in_store(settings, person)  # no app, so no serving purger: the command does it
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(settings.model_dir))
    result = CliRunner().invoke(cli_app, ["models", "purge-erased"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.splitlines()[-1])  # after any log lines
    assert printed == {"pruned": [], "erased_rows": {first: 1, second: 1}}
    for version in (first, second):
        assert person not in users_of(version)
        assert len(users_of(version)) == len(set(users_of(version)))
    assert files_holding(settings.model_dir, person) == []
    again = CliRunner().invoke(cli_app, ["models", "purge-erased", "--if-due"])
    assert json.loads(again.output.splitlines()[-1]) == {"pruned": [], "erased_rows": {}}


def test_the_purge_command_refuses_while_a_training_run_holds_the_lock(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(settings.model_dir))
    with TrainingLock.acquire(settings.model_dir):
        result = CliRunner().invoke(cli_app, ["models", "purge-erased"])
    assert result.exit_code == LOCKED_EXIT, result.output
    again = CliRunner().invoke(cli_app, ["models", "purge-erased"])
    assert again.exit_code == 0, again.output


def test_a_pruned_version_can_never_be_activated_and_its_left_files_go(
    fresh_world: World,
) -> None:
    """Pruning marks the row before deleting; activation refuses a marked row, so a rollback
    racing the prune never ends with an active version without files."""
    settings, first = fresh_world.settings, fresh_world.version
    second = run_training(settings, force=True).version
    engine = create_db_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        assert prune_old_versions(factory, settings.model_dir, keep=1) == [first]
        with pytest.raises(LookupError, match="pruned"), session_scope(factory) as session:
            set_active_version(session, first)
        assert active_version(settings) == second
        (settings.model_dir / first).mkdir()  # as a crash between mark and delete leaves it
        (settings.model_dir / first / "users.json").write_text("[]")
        assert prune_old_versions(factory, settings.model_dir, keep=1) == []
        assert not (settings.model_dir / first).exists()
    finally:
        engine.dispose()
