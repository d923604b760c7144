"""Crash safety end to end, on SQLite and PostgreSQL.

A real `tagmatch train` process is killed with SIGKILL at chosen moments of a run (while
training, half-way through writing the artifact, with the artifact complete but not yet
renamed, and renamed but not yet recorded in the store). Each moment is reached
deterministically: a few lines run before the CLI replace one internal step with a stall that
announces itself, and the test kills the process when it hears it. Whatever the moment, the
previously active model must still load and serve, no incomplete directory may carry a
version's name, the training lock must be free (the kernel drops it with the process), and
the next run must succeed and sweep the leftovers.

Also: a store outage while serving gives retryable 503 problems and the last model keeps
being served.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from trained_world import PROBLEM, World, active_version, assert_problem, build_world, train_now

from api.app import create_app
from api.jobs.lock import training_lock_holder
from matching.artifact import TEMP_MARKER
from matching.model import TrainedModel

STALL_NOTICE = "tagmatch-test: stalled at"
CRASH_POINT_ENV = "TAGMATCH_TEST_CRASH_AT"
# Runs `tagmatch train` with one step replaced by a stall, so SIGKILL lands exactly there.
CRASHING_TRAIN = f"""
import os, sys, time

point = os.environ[{CRASH_POINT_ENV!r}]

def stall(*args, **kwargs):
    print({STALL_NOTICE!r}, point, file=sys.stderr, flush=True)
    time.sleep(600)

if point == "training":
    import api.jobs.train
    api.jobs.train.train = stall
elif point == "writing":  # the arrays are on disk, the indexes and the manifest are not
    import matching.index
    matching.index.VectorIndex.save = stall
elif point == "renaming":  # the temp dir is complete, its rename is next
    real_rename = os.rename
    def rename(source, target):
        if {TEMP_MARKER!r} in os.fspath(source):
            stall()
        return real_rename(source, target)
    os.rename = rename
elif point == "recording":  # the version dir is in place, the store does not know it yet
    import api.jobs.train
    api.jobs.train.model_store.create_model_version = stall

from api.cli import main
sys.argv = ["tagmatch", "train"]
main()
"""
DEADLINE_SECONDS = 120.0


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> World:
    return build_world(database_url, tmp_path)


def run_until_stalled(world: World, point: str) -> subprocess.Popen[str]:
    settings = world.settings
    env = dict(os.environ)
    env.update(
        TAGMATCH_DATABASE_URL=settings.database_url,
        TAGMATCH_MODEL_DIR=str(settings.model_dir),
        TAGMATCH_MODEL_CONFIG_FILE=str(settings.model_config_file),
        TAGMATCH_LOG_LEVEL="WARNING",
        OPENBLAS_NUM_THREADS="1",
        **{CRASH_POINT_ENV: point},
    )
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_TRAIN],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output = []
    try:
        while True:
            line = lines.get(timeout=DEADLINE_SECONDS)
            if line is None:
                pytest.fail(f"training ended before stalling at {point}:\n{''.join(output)}")
            output.append(line)
            if STALL_NOTICE in line:
                return process
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def version_dirs(model_dir: Path) -> list[Path]:
    return [p for p in model_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]


def temp_dirs(model_dir: Path) -> list[Path]:
    return [p for p in model_dir.iterdir() if p.is_dir() and TEMP_MARKER in p.name]


# The file-level moments (writing, renaming) do not depend on the store: SQLite only.
@pytest.mark.parametrize(
    ("database_url", "point"),
    [
        ("sqlite", "training"),
        ("sqlite", "writing"),
        ("sqlite", "renaming"),
        ("sqlite", "recording"),
        ("postgresql", "training"),
        ("postgresql", "recording"),
    ],
    indirect=["database_url"],
)
def test_sigkill_mid_run_leaves_the_last_good_model(world: World, point: str) -> None:
    model_dir, before = world.settings.model_dir, world.version
    process = run_until_stalled(world, point)
    assert training_lock_holder(model_dir) is not None  # the whole run is under the lock
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert training_lock_holder(model_dir) is None  # the kernel dropped it: nothing stale

    assert active_version(world.settings) == before
    # Under a version's name there is only ever a complete, loadable artifact.
    for directory in version_dirs(model_dir):
        assert TrainedModel.load(directory).version == directory.name
    leftovers = temp_dirs(model_dir)
    assert len(leftovers) == (1 if point in ("writing", "renaming") else 0)
    assert len(version_dirs(model_dir)) == (2 if point == "recording" else 1)

    with TestClient(create_app(world.settings)) as client:
        assert client.get("/readyz").status_code == 200
        user = world.warm_users()[0]
        answer = client.get(f"/v1/users/{user}/recommendations").json()
        assert answer["model_version"] == before and answer["strategy"] == "personal"

    after = train_now(world.settings)
    assert after != before and not temp_dirs(model_dir)
    assert TrainedModel.load(model_dir / after).version == after


@pytest.fixture
def served(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as client:
        yield client


def cut_off(engine: Engine) -> Any:
    """Make every new connection fail as if the database were unreachable; drop the open
    ones. Returns the listener, for event.remove."""

    def unreachable(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if engine.dialect.name == "sqlite":
            cargs[0] = "/nonexistent-directory/tagmatch.db"
        else:
            cparams.update(host="127.0.0.1", port=1, connect_timeout=2)

    event.listen(engine, "do_connect", unreachable)
    engine.dispose()
    return unreachable


def test_store_outage_writes_are_a_503_and_answers_come_from_memory_marked_stale(
    served: TestClient, world: World
) -> None:
    engine: Engine = served.app.state.engine  # type: ignore[attr-defined]
    holder = served.app.state.model_holder  # type: ignore[attr-defined]
    event_during_outage = {
        "id": "e-outage", "user_id": "u", "item_id": "i", "type": "view",
        "ts": "2025-01-01T00:00:00Z",
    }  # fmt: skip
    listener = cut_off(engine)
    try:
        for response in (
            served.put("/v1/users", json={"users": [{"id": "during-outage"}]}),
            served.post("/v1/events", json={"events": [event_during_outage]}),
        ):
            body = assert_problem(response, 503)
            assert body["title"] == "Store unavailable" and response.headers["retry-after"]
        # Reads answer from the model and the last live state, and say so once the live
        # state's poller (every live_poll_seconds) has found the store gone.
        live = holder.serving.live
        deadline = time.monotonic() + 10
        while live.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.last_error is not None
        for path in (
            f"/v1/users/{world.warm_users()[0]}/recommendations",
            f"/v1/items/{world.catalogue.items[0].id}/audience?n=5",
        ):
            answer = served.get(path)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_version"] == world.version
            assert answer.headers["tagmatch-live-state"].startswith("stale")
        assert holder.refresh() is False  # the poller's call: keeps what it serves
        assert holder.version == world.version and holder.current is not None
        assert "store unreachable" in (holder.last_error or "")
        ready = served.get("/readyz")
        assert ready.status_code == 503 and ready.headers["content-type"] == PROBLEM
        assert ready.json()["checks"] == {"store": False, "keywords": True, "model": True}
    finally:
        event.remove(engine, "do_connect", listener)
        engine.dispose()

    assert served.get("/v1/users/during-outage").status_code == 404  # nothing was written
    assert served.get("/readyz").status_code == 200
    assert served.put("/v1/users", json={"users": [{"id": "during-outage"}]}).status_code == 200
    answer = served.get(f"/v1/users/{world.warm_users()[0]}/recommendations")
    assert answer.json()["model_version"] == world.version
    assert "tagmatch-live-state" not in answer.headers  # the write made it read again
