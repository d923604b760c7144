"""The generated client (clients/python, `make client`) against the live app over real HTTP:
ingest -> train -> recommend -> push list, with the API key, as a platform would use it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tagmatch_client import AuthenticatedClient, Client
from tagmatch_client.api.events import events_post_events
from tagmatch_client.api.items import items_put_items
from tagmatch_client.api.models import models_get_job, models_train
from tagmatch_client.api.push_lists import push_lists_create_push_list
from tagmatch_client.api.serving import serving_recommend
from tagmatch_client.api.users import users_put_users
from tagmatch_client.models import (
    EventBatch,
    EventsAccepted,
    ItemBatch,
    JobAccepted,
    JobOut,
    Problem,
    PushListOut,
    PushListRequest,
    RecommendationsOut,
    RecommendationsOutStrategy,
    Upserted,
    UserBatch,
)
from trained_world import write_model_config

from api.app import create_app
from api.settings import Settings
from api.store.db import create_db_engine
from api.store.migrate import upgrade_to_head
from matching.synthetic import generate_catalogue

KEY = "client-test-key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")  # the training child inherits it
    url = f"sqlite:///{tmp_path / 'client.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    settings = Settings(
        database_url=url,
        model_dir=tmp_path / "models",
        model_config_file=write_model_config(tmp_path),
        api_key=KEY,
        model_poll_seconds=0.1,
        log_level="WARNING",
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, "the server to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _wait(condition: Any, what: str, deadline: float = 120.0) -> Any:
    """Poll until condition() is truthy; a bound on waiting, not a claim about speed."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_ingest_train_recommend_push_through_the_generated_client(base_url: str) -> None:
    catalogue = generate_catalogue(n_users=200, n_items=80, n_events=3000, seed=1, now=time.time())
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    refused = users_put_users.sync_detailed(
        client=anonymous,  # type: ignore[arg-type]
        body=UserBatch.from_dict({"users": [{"id": "u"}]}),
    )
    assert refused.status_code == 401 and isinstance(refused.parsed, Problem)

    with AuthenticatedClient(base_url=base_url, token=KEY, timeout=None) as client:
        users = UserBatch.from_dict(
            {
                "users": [
                    {
                        "id": u.id,
                        "attributes": dict(u.attributes),
                        "tags": dict(u.tags),
                        "consent": {"push": u.push_consent},
                    }
                    for u in catalogue.users
                ]
            }
        )
        assert users_put_users.sync(client=client, body=users) == Upserted(upserted=200)
        items = ItemBatch.from_dict(
            {
                "items": [
                    {"id": i.id, "title": i.title, "text": i.text, "tags": dict(i.tags)}
                    | ({"category": i.category} if i.category else {})
                    | ({"published_at": _iso(i.published_at)} if i.published_at else {})
                    for i in catalogue.items
                ]
            }
        )
        assert items_put_items.sync(client=client, body=items) == Upserted(upserted=80)
        events = [
            {
                "id": e.id,
                "user_id": e.user_id,
                "item_id": e.item_id,
                "type": e.type,
                "ts": _iso(e.ts),
            }
            | ({} if e.value is None else {"value": e.value})
            for e in catalogue.events
        ]
        for start in range(0, len(events), 1000):
            batch = EventBatch.from_dict({"events": events[start : start + 1000]})
            accepted = events_post_events.sync(client=client, body=batch)
            assert isinstance(accepted, EventsAccepted) and accepted.duplicates == 0
        typo = EventBatch.from_dict({"events": [{**events[0], "id": "typo", "type": "clik"}]})
        problem = events_post_events.sync(client=client, body=typo)
        assert isinstance(problem, Problem) and problem.status == 422
        assert problem.errors and problem.errors[0].loc == ["body", "events", 0, "type"]

        job = models_train.sync(client=client)
        assert isinstance(job, JobAccepted)

        def finished() -> JobOut | None:
            state = models_get_job.sync(job.job_id, client=client)
            assert isinstance(state, JobOut)
            return state if state.status in ("succeeded", "failed") else None

        done = _wait(finished, "the training job")
        assert done.status == "succeeded", done.error

        user = catalogue.users[0].id

        def personal() -> RecommendationsOut | None:
            answer = serving_recommend.sync(user, client=client, n=5)
            assert isinstance(answer, RecommendationsOut)
            return answer if answer.strategy == RecommendationsOutStrategy.PERSONAL else None

        answer = _wait(personal, "the trained model to be served")
        assert len(answer.items) == 5 and answer.model_version

        request = PushListRequest.from_dict(
            {"item_id": catalogue.items[0].id, "size": 20, "frequency_cap": {"max": 1, "hours": 24}}
        )
        pushed = push_lists_create_push_list.sync(client=client, body=request)
        assert isinstance(pushed, PushListOut) and 0 < len(pushed.users) <= 20
        consenting = {u.id for u in catalogue.users if u.push_consent}
        assert {u.user_id for u in pushed.users} <= consenting


def test_the_stored_client_is_generated_from_the_stored_document(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    stored = root / "clients" / "python"
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [
            str(venv_bin / "openapi-python-client"),
            "generate",
            "--meta=pdm",
            f"--path={root / 'openapi' / 'openapi.json'}",
            f"--config={root / 'clients' / 'openapi-python-client.yaml'}",
            f"--output-path={tmp_path / 'python'}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )

    def files(directory: Path) -> dict[str, str]:
        return {
            str(p.relative_to(directory)): p.read_text("utf-8")
            for p in sorted(directory.rglob("*"))
            if p.is_file() and not {"__pycache__", ".ruff_cache"} & set(p.parts)
        }

    assert files(tmp_path / "python") == files(stored), "clients/python is stale: run `make client`"
