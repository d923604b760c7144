"""Recommendations and audiences answered from the lists training stored (matching/
precomputed.py) through HTTP, on SQLite and PostgreSQL: the online answer when nothing
changed, the online path after a user's new event, the stored list less what changed for a
deletion, a new engagement or an erasure (tests/matching/test_precomputed.py: every user and
item of a model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_serving import audience, ids, recommend
from trained_world import World

from api.schemas.serving import SCORE_DIGITS
from matching import precomputed
from matching.model import Scored, TrainedModel


def as_json(found: list[Scored], key: str) -> list[dict[str, Any]]:
    return [{key: s.id, "score": round(s.score, SCORE_DIGITS), "reasons": s.reasons} for s in found]


@pytest.fixture
def online_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often the online paths ran: recommend's ranking, audience's user search."""
    calls = {"ranked": 0, "audience": 0}
    ranked, online_audience = TrainedModel.ranked_items, TrainedModel.audience

    def count_ranked(self: TrainedModel, *args: Any, **kwargs: Any) -> Any:
        calls["ranked"] += 1
        return ranked(self, *args, **kwargs)

    def count_audience(self: TrainedModel, *args: Any, **kwargs: Any) -> Any:
        calls["audience"] += 1
        return online_audience(self, *args, **kwargs)

    monkeypatch.setattr(TrainedModel, "ranked_items", count_ranked)
    monkeypatch.setattr(TrainedModel, "audience", count_audience)
    yield calls


@pytest.fixture(scope="module", autouse=True)
def everything_live(served: TestClient, world: World) -> None:
    """Every item published and open-ended: the synthetic catalogue plants expired and future
    ones, and with some items unavailable the stored list is filtered where an online call
    ranks the pool without them (features are standardised within it): close, not equal."""
    now = datetime.now(UTC)
    window = {
        "published_at": (now - timedelta(days=1)).isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
    }
    update = [{"id": item.id, **window} for item in world.catalogue.items]
    assert served.put("/v1/items", json={"items": update}).status_code == 200


def model_of(client: TestClient) -> TrainedModel:
    model: TrainedModel = client.app.state.model_holder.current  # type: ignore[attr-defined]
    return model


def test_without_news_the_stored_answer_is_the_online_one(
    served: TestClient, world: World, online_calls: dict[str, int]
) -> None:
    model = model_of(served)
    assert model.precomputed is not None
    users, items = world.warm_users()[:30], [item.id for item in world.catalogue.items[:20]]
    online = {u: model.recommend(u, 10, exclude_seen=True).items for u in users}
    reached = {i: model.audience(i, 50, exclude_seen=True) for i in items}
    online_calls.update(ranked=0, audience=0)
    for user in users:
        answer = recommend(served, user, n=10)
        assert answer["strategy"] == "personal"
        assert answer["items"] == as_json(online[user], "item_id")
    for item in items:
        assert audience(served, item, n=50)["users"] == as_json(reached[item], "user_id")
    assert online_calls == {"ranked": 0, "audience": 0}  # all read from the stored lists
    recommend(served, users[0], n=10, category="yoga")  # a filter: online
    recommend(served, users[0], n=10, exclude_seen="false")
    audience(served, items[0], n=201)  # more than stored
    assert online_calls == {"ranked": 2, "audience": 1}


def test_a_new_event_sends_the_user_online_and_a_deletion_is_filtered_out(
    served: TestClient, world: World, online_calls: dict[str, int]
) -> None:
    model = model_of(served)
    active, other = world.warm_users()[30:32]
    stored = precomputed.recommend(model, active, 50)
    assert stored is not None
    clicked = stored.items[0].id
    event = {"id": "precomputed-1", "user_id": active, "item_id": clicked, "type": "click",
             "ts": datetime.now(UTC).isoformat()}  # fmt: skip
    assert served.post("/v1/events", json={"events": [event]}).status_code == 200
    online_calls.update(ranked=0)
    after = ids(recommend(served, active, n=10))
    assert online_calls["ranked"] == 1 and clicked not in after  # folded in, online

    listed = precomputed.recommend(model, other, 50)
    assert listed is not None
    gone = listed.items[2].id
    assert served.delete(f"/v1/items/{gone}").status_code == 204
    online_calls.update(ranked=0)
    answer = recommend(served, other, n=10)
    assert online_calls["ranked"] == 0  # still the stored list, less the deleted item
    kept = [s for s in listed.items if s.id != gone][:10]
    assert answer["items"] == as_json(kept, "item_id")


def test_audience_drops_who_engaged_since_and_who_was_erased(
    served: TestClient, world: World, online_calls: dict[str, int]
) -> None:
    model = model_of(served)
    item = world.catalogue.items[6].id
    stored = precomputed.audience(model, item, 200)
    assert stored is not None
    engaged, erased = stored[0].id, stored[3].id
    event = {"id": "precomputed-aud", "user_id": engaged, "item_id": item, "type": "view",
             "ts": datetime.now(UTC).isoformat()}  # fmt: skip
    assert served.post("/v1/events", json={"events": [event]}).status_code == 200
    assert served.delete(f"/v1/users/{erased}").status_code == 204
    online_calls.update(audience=0)
    answer = audience(served, item, n=30)["users"]
    assert online_calls["audience"] == 0
    assert answer == as_json([s for s in stored if s.id not in (engaged, erased)][:30], "user_id")


def test_a_user_known_by_declared_data_alone_reads_their_stored_cold_start_until_it_changes(
    served: TestClient, world: World, online_calls: dict[str, int]
) -> None:
    model = model_of(served)
    cold = [world.catalogue.users[int(row)].id for row in world.truth.cold_users]
    assert cold and not any(model.is_warm_user(model.users.index(u) or 0) for u in cold)
    online = {u: model.recommend(u, 10, exclude_seen=True) for u in cold}
    online_calls.update(ranked=0)
    for user in cold:
        answer = recommend(served, user, n=10)
        assert answer["strategy"] == online[user].strategy == "cold_start"
        assert answer["items"] == as_json(online[user].items, "item_id")
    # read from the stored lists (the live state re-read their records after the snapshot:
    # the same data, so the same query)
    assert online_calls["ranked"] == 0
    # their declared data is their query: once it changes, the answer is ranked from it
    attributes, tags = {"gender": "f", "age": 29}, {"kw:瑜伽": 1.0}
    changed = {"id": cold[0], "attributes": attributes, "tags": tags}
    assert served.put("/v1/users", json={"users": [changed]}).status_code == 200
    answer = recommend(served, cold[0], n=10)
    assert online_calls["ranked"] == 1
    expected = model.recommend(
        cold[0], 10, attributes=attributes, declared_tags=tags, exclude_seen=True
    )
    assert answer["strategy"] == "cold_start"
    assert (
        answer["items"]
        == as_json(expected.items, "item_id")
        != as_json(online[cold[0]].items, "item_id")
    )
