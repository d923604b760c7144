"""Read-your-writes in one process (api/live/writes.py): an event this process acknowledged
counts in its next answer about its user or its item. The writer applies its stored events to
its live state itself, so no answer waits for the store, unless an event created a user or an
item (the poll reads the new row); any other write makes the next answer of every kind catch up
first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_serving import audience, ids, recommend

from api.live import LiveState
from api.live.writes import WriteCounter, item_key, user_key
from api.store.freshness import EventRow
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


def _warm_users(served: TestClient) -> list[str]:
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    return [model.users.id(r) for r in range(len(model.users)) if model.is_warm_user(r)]


def test_an_event_counts_at_once_and_waits_for_no_read(
    served: TestClient, catch_ups: list[int]
) -> None:
    writer, other = _warm_users(served)[:2]
    recommend(served, writer)  # earlier tests' writes read: a clean start
    catch_ups.clear()
    seen_now = ids(recommend(served, writer))[0]
    unrelated = next(i for i in ids(recommend(served, other)) if i != seen_now)
    assert served.post("/v1/events", json={"events": [_event(1, writer, seen_now)]}).is_success

    recommend(served, other)
    audience(served, unrelated, n=20)
    assert seen_now not in ids(recommend(served, writer))  # the next answer about the writer
    assert served.post("/v1/events", json={"events": [_event(2, other, unrelated)]}).is_success
    assert other not in ids(audience(served, unrelated, n=1000), "users")  # about the item
    assert catch_ups == []  # applied by the writer: nothing read back

    # The poll that reads them later does not apply them twice.
    live: LiveState = served.app.state.model_holder.serving.live  # type: ignore[attr-defined]
    live.poll(served.app.state.read_live)  # type: ignore[attr-defined]
    assert [e.item_id for e in live.user(writer).recent].count(seen_now) == 1
    assert served.post("/v1/events", json={"events": [_event(1, writer, seen_now)]}).json() == {
        "accepted": 0,
        "duplicates": 1,
    }
    assert [e.item_id for e in live.user(writer).recent].count(seen_now) == 1


def test_an_event_that_creates_a_user_waits_for_the_read(
    served: TestClient, catch_ups: list[int]
) -> None:
    (user,) = _warm_users(served)[:1]
    item = ids(recommend(served, user))[0]
    catch_ups.clear()
    newcomer = "ryw-newcomer-新"
    assert served.post("/v1/events", json={"events": [_event(3, newcomer, item)]}).is_success
    recommend(served, user)
    assert catch_ups == []  # the item's and other users' answers: nothing new to read
    assert item not in ids(recommend(served, newcomer))  # the new user exists, item seen
    assert len(catch_ups) == 1


def test_a_live_state_that_replaced_the_writers_reads_the_event(served: TestClient) -> None:
    """A model swap between the write and the answer: the new live state did not get the
    event applied, so it catches up."""
    writes: WriteCounter = served.app.state.writes  # type: ignore[attr-defined]
    model: TrainedModel = served.app.state.model_holder.current  # type: ignore[attr-defined]
    old, new = (LiveState(model, margin=timedelta(seconds=60)) for _ in range(2))
    old.writes_seen = new.writes_seen = writes._count
    user, item = _warm_users(served)[0], model.items.id(0)
    row = EventRow(10**9, user, item, "view", None, datetime.now(UTC), datetime.now(UTC))
    writes.committed_events([row], old)
    about = [user_key(user), item_key(item)]
    assert not writes.unseen_by(old, about)
    assert writes.unseen_by(new, about)
    assert [e.pk for e in old.user(user).recent] == [10**9]

    # and a later write applied to `new` still leaves the first one to read
    later = EventRow(10**9 + 1, user, item, "view", None, datetime.now(UTC), datetime.now(UTC))
    writes.committed_events([later], new)
    assert writes.unseen_by(new, [user_key(user)])


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
