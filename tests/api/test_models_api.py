"""Model versions and training through HTTP, on SQLite and PostgreSQL: a training job in its
own process (POST /v1/models/train, polled to the end), one job at a time, a killed job that
does not block the next, listing, rollback served at once, the gate, and a hot swap under load
that never mixes versions within an answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from trained_world import World, assert_problem, write_model_config

from api.app import create_app
from api.jobs.train import run_training
from api.model_holder import ModelHolder
from api.routes import models as model_routes

JOB_DEADLINE_SECONDS = 120.0


def wait_for(condition: Any, what: str, deadline: float = JOB_DEADLINE_SECONDS) -> Any:
    """Poll until condition() is truthy; a bound on waiting, not a claim about speed."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def finished_job(client: TestClient, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


@pytest.fixture
def client(fresh_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")  # the training child inherits it
    settings = fresh_world.settings.model_copy(update={"model_poll_seconds": 0.1})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def second_version(world: World, **als: Any) -> str:
    """Another version, from a different ALS set-up (so its answers differ), forced active."""
    config = write_model_config(
        world.settings.model_dir.parent, {"als": als, "search": {"trials": 0}}
    )
    settings = world.settings.model_copy(update={"model_config_file": config})
    return run_training(settings, force=True).version


def test_train_job_runs_in_its_own_process_and_is_picked_up(
    client: TestClient, fresh_world: World
) -> None:
    accepted = client.post("/v1/models/train")
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert "is " in assert_problem(client.post("/v1/models/train"), 409)["detail"]

    seen: list[tuple[str, float]] = []  # (stage, progress) as polled while it ran

    def finished_noting_progress() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["stage"] is not None:
            seen.append((job["stage"], job["progress"]))
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_for(finished_noting_progress, "the training job")
    assert job["status"] == "succeeded", job["error"]
    assert (job["stage"], job["progress"]) == ("done", 1.0)
    assert [p for _, p in seen] == sorted(p for _, p in seen)  # progress only grows
    result = job["result"]
    assert [s["stage"] for s in result["stages"]] == [
        "snapshot", "evaluate", "fit", "index", "precompute", "save", "gate", "segments",
    ]  # fmt: skip
    assert all(s["seconds"] >= 0 for s in result["stages"])
    listed = client.get("/v1/jobs", params={"kind": "train"}).json()["jobs"]
    assert listed[0]["id"] == job_id and listed[0]["stage"] == "done"
    assert result["activated"] is True, result["reason"]
    assert "ndcg@10" in result["metrics"] and "life-silent" in result["segments"]
    new = result["version"]
    assert new != fresh_world.version

    listed = client.get("/v1/models").json()
    versions = {m["version"]: m for m in listed["models"]}
    assert set(versions) == {fresh_world.version, new}
    assert versions[new]["active"] and not versions[fresh_world.version]["active"]
    assert versions[fresh_world.version]["status"] == "retired"
    assert all("ndcg@10" in m["metrics"] and m["counts"]["users"] == 200 for m in versions.values())
    # Every replica follows the store by polling: this one too, without a restart.
    wait_for(lambda: client.get("/v1/models").json()["serving"] == new, "the new version served")
    user = fresh_world.warm_users()[0]
    assert client.get(f"/v1/users/{user}/recommendations").json()["model_version"] == new
    segments = client.get("/v1/segments").json()["segments"]
    assert segments and all(s["model_version"] == new for s in segments)  # refreshed by the run
    assert_problem(client.get("/v1/jobs/no-such-job"), 404)


def test_a_killed_training_job_fails_and_does_not_block_the_next(
    client: TestClient, fresh_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow set-up (seconds of ALS after the claim), so the kill lands in the middle of the run.
    slow = {
        "als": {"factors": 64, "iterations": 60, "regularization": 1.0},
        "search": {"trials": 0},
    }
    settings = client.app.state.settings  # type: ignore[attr-defined]
    config = write_model_config(fresh_world.settings.model_dir.parent, slow)
    client.app.state.settings = settings.model_copy(update={"model_config_file": config})  # type: ignore[attr-defined]
    started: list[subprocess.Popen[bytes]] = []
    launch = model_routes.launch_training

    def launch_and_keep(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(launch(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(model_routes, "launch_training", launch_and_keep)
    job_id = client.post("/v1/models/train").json()["job_id"]
    wait_for(lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] == "running", "a claim")
    os.killpg(started[0].pid, signal.SIGKILL)

    job = wait_for(lambda: finished_job(client, job_id), "the killed job to be marked")
    assert job["status"] == "failed" and "before finishing" in job["error"]
    again = client.post("/v1/models/train")
    assert again.status_code == 202
    os.killpg(started[1].pid, signal.SIGKILL)  # killed before or after its claim: same end
    job = wait_for(lambda: finished_job(client, again.json()["job_id"]), "the next job")
    assert job["status"] == "failed" and "killed by signal 9" in job["error"]


def test_list_and_roll_back_served_at_once(client: TestClient, fresh_world: World) -> None:
    first = fresh_world.version
    second = second_version(fresh_world, factors=8, iterations=4, regularization=1.0)
    user = fresh_world.warm_users()[0]

    def served_version() -> str:
        answer = client.get(f"/v1/users/{user}/recommendations").json()
        version: str = answer["model_version"]
        return version

    for version in (second, first, second):
        activated = client.post(f"/v1/models/{version}/activate")
        assert activated.status_code == 200 and activated.json()["active"] is True
        assert served_version() == version  # this replica swaps at once, no poll needed
        silent = client.get("/v1/segments/life-silent").json()
        assert silent["model_version"] == version  # members follow the model served
        listed = client.get("/v1/models").json()
        assert listed["serving"] == version
        assert [m["version"] for m in listed["models"] if m["active"]] == [version]
    assert_problem(client.post("/v1/models/no-such-version/activate"), 404)

    (fresh_world.settings.model_dir / first).rename(fresh_world.settings.model_dir / "moved")
    assert_problem(client.post(f"/v1/models/{first}/activate"), 409)
    assert served_version() == second and client.get("/v1/models").json()["serving"] == second


def test_the_gate_refuses_a_worse_candidate(client: TestClient, fresh_world: World) -> None:
    """Paired: the active model's procedure (its stored config) is refitted on the same
    training part and scored on the same holdout as the candidate, whose settings are bad."""
    worse = {
        "als": {"factors": 2, "iterations": 1, "regularization": 10000.0},
        "hybrid": {"tag_share": 0.0},
        "ranking": {"enabled": False},
        "search": {"trials": 0},
    }
    path = write_model_config(fresh_world.settings.model_dir.parent, worse)
    settings = fresh_world.settings.model_copy(update={"model_config_file": path})
    refused = run_training(settings)
    assert refused.activated is False and refused.reason.startswith("refused")
    assert "same holdout" in refused.reason
    assert refused.metrics["ndcg@10"] < refused.metrics["active"]["ndcg@10"]

    listed = {m["version"]: m for m in client.get("/v1/models").json()["models"]}
    assert listed[refused.version]["status"] == "rejected"
    assert not listed[refused.version]["active"] and listed[fresh_world.version]["active"]
    assert "refused" in listed[refused.version]["note"]
    client.app.state.model_holder.refresh()  # type: ignore[attr-defined]
    assert client.get("/v1/models").json()["serving"] == fresh_world.version

    forced = run_training(settings, force=True)
    assert forced.activated and forced.reason.startswith("forced: refused")


def test_hot_swap_under_load_never_mixes_versions(client: TestClient, fresh_world: World) -> None:
    first = fresh_world.version
    second = second_version(fresh_world, factors=8, iterations=4, regularization=1.0)
    users = fresh_world.warm_users()[:12]

    def answers() -> dict[str, dict[str, Any]]:
        found = {}
        for user in users:
            body = client.get(f"/v1/users/{user}/recommendations", params={"n": 10}).json()
            found[user] = body
        return found

    expected = {}
    for version in (first, second):
        assert client.post(f"/v1/models/{version}/activate").status_code == 200
        expected[version] = answers()
    assert any(expected[first][u]["items"] != expected[second][u]["items"] for u in users), (
        "the two versions must answer differently for the test to see a mix"
    )

    stop, seen, failures = threading.Event(), [], []

    def hammer(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            user = users[turn % len(users)]
            turn += 1
            response = client.get(f"/v1/users/{user}/recommendations", params={"n": 10})
            if response.status_code != 200:
                failures.append(response.text)
                continue
            body = response.json()
            version = body["model_version"]
            if version not in expected or body != expected[version][user]:
                failures.append(f"{user} @ {version}: {body}")
            seen.append(version)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    try:
        for swap in range(12):
            version = (first, second)[swap % 2]
            assert client.post(f"/v1/models/{version}/activate").status_code == 200
            count = len(seen)
            wait_for(lambda count=count: len(seen) >= count + 5, "answers between swaps")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:3]
    assert set(seen) == {first, second}


def test_a_stale_read_of_the_active_version_never_swaps_an_older_model_back(
    tmp_path: Path,
) -> None:
    """The poller reads 'v1 is active' just before v2's activation commits, and v2's own
    refresh runs meanwhile: the poller's late answer must not put v1 back."""
    store = {"active": "v1"}
    poller_has_read, activation_committed = threading.Event(), threading.Event()

    def active_version() -> tuple[str, str]:
        version = store["active"]
        if threading.current_thread().name == "poller":
            poller_has_read.set()
            activation_committed.wait(timeout=5)  # the answer arrives late
        return version, version

    def load(path: Path) -> Any:
        return SimpleNamespace(version=path.name)

    holder = ModelHolder(tmp_path, active_version, loader=load, live_state=lambda model: None)
    assert holder.refresh() and holder.version == "v1"
    poller = threading.Thread(target=holder.refresh, name="poller")
    poller.start()
    assert poller_has_read.wait(timeout=5)
    store["active"] = "v2"  # POST /v1/models/v2/activate commits, then refreshes
    activation = threading.Thread(target=holder.refresh, name="activation")
    activation.start()
    activation.join(timeout=0.5)  # unguarded, it installs v2 here, before the poller answers
    activation_committed.set()
    poller.join()
    activation.join()
    assert holder.version == "v2"


def test_a_version_shows_its_settings_and_every_search_trial(
    client: TestClient, fresh_world: World
) -> None:
    searched = {"als": {"factors": 8, "iterations": 3}, "search": {"trials": 3, "seconds": 0}}
    path = write_model_config(fresh_world.settings.model_dir.parent, searched)
    settings = fresh_world.settings.model_copy(update={"model_config_file": path})
    outcome = run_training(settings, force=True)

    body = client.get(f"/v1/models/{outcome.version}").json()
    search = body["search"]
    assert search["trials"] == 3 and len(search["trial_scores"]) == 3
    assert all(t["ndcg@10"] is not None and t["params"] for t in search["trial_scores"])
    assert search["trial_scores"][0]["params"]["als.factors"] == 8  # the given config first
    best = max(t["ndcg@10"] for t in search["trial_scores"])
    assert search["validation_ndcg@10"] == pytest.approx(best)
    chosen = search["chosen"]
    assert body["config"]["als"]["factors"] == chosen["als.factors"]
    assert body["config"]["ranking"]["ease_lambda"] == pytest.approx(chosen["ranking.ease_lambda"])
    assert set(search["ranking_weights"]) >= {"retrieval", "item_item", "popularity"}

    first = client.get(f"/v1/models/{fresh_world.version}").json()
    assert first["search"]["trials"] == 0 and first["config"]["als"]["factors"] == 16
    assert_problem(client.get("/v1/models/no-such-version"), 404)
