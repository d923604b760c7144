"""Read-your-writes in one process (api/live/writes.py): an event this process acknowledged
counts in its next answer about its user or its item, and only those answers wait for the
store; any other write makes the next answer of every kind catch up first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_serving import audience, ids, recommend

from api.live import LiveState
from matching.model import TrainedModel


@pytest.fixture
def catch_ups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The catch-up polls requests made (the background poller's polls are not counted)."""
    made: list[int] = []
    poll = LiveState.poll

    def counting(self: LiveState, open_session: Any, *, unless_seen: int | None = None) -> bool:
        if unless_seen is not None:
            made.append(unless_seen)
        return poll(self, open_session, unless_seen=unless_seen)

    monkeypatch.setattr(LiveState, "poll", counting)
    return made


def _event(n: int, user: str, item: str) -> dict[str, Any]:
    return {"id": f"ryw-{n}", "user_id": user, "item_id": item, "type": "view",
            "ts": datetime.now(UTC).isoformat()}  # fmt: skip


def test_an_event_waits_only_answers_about_its_user_and_item(
    served: TestClient, catch_ups: list[int]
) -> None:
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    warm = [model.users.id(r) for r in range(len(model.users)) if model.is_warm_user(r)]
    writer, other = warm[0], warm[1]
    recommend(served, writer)  # earlier tests' writes read: a clean start
    catch_ups.clear()
    seen_now = ids(recommend(served, writer))[0]
    unrelated = next(i for i in ids(recommend(served, other)) if i != seen_now)
    assert served.post("/v1/events", json={"events": [_event(1, writer, seen_now)]}).is_success

    recommend(served, other)
    audience(served, unrelated, n=20)
    assert catch_ups == []  # not about the writer nor the item: nothing to wait for

    assert seen_now not in ids(recommend(served, writer))  # the next answer about the writer
    assert len(catch_ups) == 1

    assert served.post("/v1/events", json={"events": [_event(2, other, unrelated)]}).is_success
    assert other not in ids(audience(served, unrelated, n=1000), "users")  # about the item
    assert len(catch_ups) == 2


def test_any_other_write_makes_every_next_answer_catch_up(
    served: TestClient, catch_ups: list[int]
) -> None:
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    user = next(model.users.id(r) for r in range(len(model.users)) if model.is_warm_user(r))
    recommend(served, user)
    catch_ups.clear()
    shown = ids(recommend(served, user))
    assert catch_ups == []
    renamed = {"items": [{"id": shown[-1], "title": "renamed 改名"}]}
    assert served.put("/v1/items", json=renamed).is_success
    recommend(served, user)
    assert len(catch_ups) == 1
