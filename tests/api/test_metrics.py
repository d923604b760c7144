"""Prometheus metrics: domain metrics in one process, and one merged view of N workers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from trained_world import World

from api.store import jobs
from api.store.db import SessionFactory, session_scope

TS = "2026-11-01T12:00:00Z"


def _event(i: int, event_type: str = "view") -> dict[str, object]:
    return {"id": f"e{i}", "user_id": "u1", "item_id": "i1", "type": event_type, "ts": TS}


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample; labels must match exactly those given (in any order)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if found == labels:
            return float(match.group(2))
    raise AssertionError(f"no sample {name}{labels}")


def test_events_are_counted_by_outcome(client: TestClient) -> None:
    client.post("/v1/events", json={"events": [_event(1), _event(2)]})
    client.post("/v1/events", json={"events": [_event(2), _event(3)]})
    client.post("/v1/events", json={"events": [_event(4), _event(5, "clik")]})
    text = client.get("/metrics").text
    assert _sample(text, "tagmatch_events_total", outcome="accepted") == 3
    assert _sample(text, "tagmatch_events_total", outcome="duplicate") == 1
    assert _sample(text, "tagmatch_events_total", outcome="rejected") == 2
    assert _sample(text, "tagmatch_store_seconds_count", operation="insert") >= 2


def test_the_newest_training_job_is_reported_from_the_store(
    client: TestClient, session_factory: SessionFactory
) -> None:
    assert "tagmatch_training_last_success" not in client.get("/metrics").text
    stages = [{"stage": "snapshot", "seconds": 0.5}, {"stage": "fit", "seconds": 3.25}]
    with session_scope(session_factory) as session:
        job_id = jobs.create_job(session, "train").id
        jobs.claim_job(session, job_id)
        jobs.finish_job(session, job_id, result={"stages": stages})
    text = client.get("/metrics").text
    assert _sample(text, "tagmatch_training_last_success") == 1
    assert _sample(text, "tagmatch_training_last_stage_seconds", stage="fit") == 3.25
    assert _sample(text, "tagmatch_training_last_finished_timestamp_seconds") > 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_workers_report_one_merged_view(migrated_url: str, tmp_path: Path) -> None:
    if not migrated_url.startswith("sqlite"):
        pytest.skip("one backend is enough: this is about processes, not the store")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale")  # an earlier run's: emptied first
    port = _free_port()
    env = {
        **os.environ,
        "TAGMATCH_DATABASE_URL": migrated_url,
        "TAGMATCH_MODEL_DIR": str(tmp_path / "models"),
        "TAGMATCH_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:  # a bound on waiting for start-up, not a claim about speed
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        # A new connection a request, so the kernel spreads them over the workers; go on until
        # both workers (each starts in its own time) have answered some.
        sent = 0

        def writers() -> set[str]:
            return {p.name for p in metrics_dir.glob("counter_*.db")} - {"counter_1.db"}

        with httpx.Client(base_url=base, headers={"connection": "close"}) as client:
            while len(writers()) < 2 or sent < 20:
                assert time.monotonic() < deadline, f"one worker answered everything: {writers()}"
                assert client.get("/healthz").status_code == 200
                sent += 1
            # Every scrape, whichever worker answers, counts every worker's requests.
            for _ in range(4):
                text = client.get("/metrics").text
                total = _sample(
                    text,
                    "tagmatch_http_requests_total",
                    method="GET",
                    route="/healthz",
                    status="200",
                )
                assert total == sent + 1  # and the start-up probe that answered
        assert not (metrics_dir / "counter_1.db").exists()  # the earlier run's was emptied
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_served_model_and_its_age(served: TestClient, world: World) -> None:
    text = served.get("/metrics").text
    assert _sample(text, "tagmatch_model_info", version=world.version) == 1
    created = _sample(text, "tagmatch_model_created_timestamp_seconds")
    assert 0 < time.time() - created < 3600  # trained by this module's fixture


def test_answers_are_counted_by_strategy_with_their_sizes(served: TestClient, world: World) -> None:
    user, item = world.warm_users()[0], world.catalogue.items[0].id
    assert served.get(f"/v1/users/{user}/recommendations?n=4").json()["strategy"] == "personal"
    assert served.get("/v1/users/nobody-at-all/recommendations").json()["strategy"] == "popular"
    audience = served.get(f"/v1/items/{item}/audience?n=7").json()["users"]
    text = served.get("/metrics").text
    assert _sample(text, "tagmatch_answers_total", endpoint="recommend", strategy="personal") >= 1
    assert _sample(text, "tagmatch_answers_total", endpoint="recommend", strategy="popular") >= 1
    assert _sample(text, "tagmatch_answer_size_sum", endpoint="audience") >= len(audience) > 0
