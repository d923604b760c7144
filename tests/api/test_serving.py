"""Recommendations, similar items and audiences through HTTP on a small trained synthetic model,
on SQLite and PostgreSQL: strategies, planted clusters recovered, store changes after training
(new events, deletions, expiries, erasures) honoured at once, filters, and errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from trained_world import CLUSTER_ITEMS, World, assert_problem

from api.app import create_app
from api.schemas.serving import AudienceOut, RecommendationsOut, SimilarItemsOut

STUDIED = 40  # the most active users, whose answers some tests judge: nobody erases them


def recommend(client: TestClient, user_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user_id}/recommendations", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(answer: dict[str, Any], key: str = "items") -> list[str]:
    field = "item_id" if key == "items" else "user_id"
    return [entry[field] for entry in answer[key]]


def disposable(world: World, candidates: list[str]) -> str:
    """The first candidate that is not a cluster anchor: tests may delete or expire it, while
    the anchors (rows 0-3: old, open-ended, warm) stay for the tests that read them."""
    anchors = {item.id for item in world.catalogue.items[:4]}
    return next(c for c in candidates if c not in anchors)


def live_items(client: TestClient, world: World) -> set[str]:
    """Catalogue items the store says are published, not expired and not deleted now."""
    now, live = datetime.now(UTC), set()
    for item in world.catalogue.items:
        response = client.get(f"/v1/items/{item.id}")
        if response.status_code == 404:
            continue
        body = response.json()
        published = body["published_at"] and datetime.fromisoformat(body["published_at"])
        expires = body["expires_at"] and datetime.fromisoformat(body["expires_at"])
        if (not published or published <= now) and (not expires or expires > now):
            live.add(item.id)
    return live


def cluster_share(world: World, item_ids: list[str], cluster: int) -> float:
    return float(np.mean([world.item_cluster.get(i) == cluster for i in item_ids]))


def test_personal_recommendations_follow_the_planted_cluster(
    served: TestClient, world: World
) -> None:
    shares = []
    for user_id in world.warm_users()[:STUDIED]:
        answer = recommend(served, user_id, n=10)
        assert answer["strategy"] == "personal" and answer["model_version"] == world.version
        assert len(answer["items"]) == 10
        assert not set(ids(answer)) & world.items_of_user(user_id)  # exclude_seen by default
        scores = [entry["score"] for entry in answer["items"]]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(entry["reasons"], list) for entry in answer["items"])
        assert answer["items"][0]["reasons"]
        # The most active users have seen most of their cluster: judge the ranking with
        # seen items left in.
        everything = recommend(served, user_id, n=10, exclude_seen="false")
        shares.append(cluster_share(world, ids(everything), world.user_cluster[user_id]))
    # Four planted clusters: chance is about a quarter.
    assert np.mean(shares) > 0.75


def test_cold_start_user_with_declared_tags_gets_items_of_that_taste(
    served: TestClient, world: World
) -> None:
    user = {"id": "cold-yogi", "attributes": {"gender": "f", "age": 29}, "tags": {"kw:瑜伽": 1.0}}
    assert served.put("/v1/users", json={"users": [user]}).status_code == 200
    answer = recommend(served, "cold-yogi", n=10)
    assert answer["strategy"] == "cold_start" and answer["model_version"] == world.version
    assert len(answer["items"]) == 10
    assert cluster_share(world, ids(answer), cluster=0) >= 0.7
    assert any("kw:瑜伽" in entry["reasons"] for entry in answer["items"])


def test_unknown_user_gets_the_popular_items(served: TestClient, world: World) -> None:
    answer = recommend(served, "never-seen-before", n=5)
    assert answer["strategy"] == "popular" and answer["model_version"] == world.version
    assert len(answer["items"]) == 5
    assert all(entry["reasons"] == ["popular"] for entry in answer["items"])
    assert served.get("/v1/users/never-seen-before").status_code == 404  # nothing was created


def test_events_ingested_after_training_are_excluded_at_once(
    served: TestClient, world: World
) -> None:
    user_id = world.warm_users()[0]
    first, second = ids(recommend(served, user_id, n=5))[:2]
    # One event from just now, one that happened before training but arrived only now.
    before_training = world.catalogue.events.ts.max()
    late = datetime.fromtimestamp(float(before_training), UTC) - timedelta(hours=1)
    events = [
        {"id": "after-1", "user_id": user_id, "item_id": first, "type": "click",
         "ts": datetime.now(UTC).isoformat()},
        {"id": "after-2", "user_id": user_id, "item_id": second, "type": "view",
         "ts": late.isoformat()},
    ]  # fmt: skip
    assert served.post("/v1/events", json={"events": events}).status_code == 200
    now_seen = ids(recommend(served, user_id, n=20))
    assert first not in now_seen and second not in now_seen
    everything = ids(recommend(served, user_id, n=80, exclude_seen="false"))
    assert first in everything and second in everything


def test_deleted_item_disappears_at_once(served: TestClient, world: World) -> None:
    user_id = world.warm_users()[1]
    gone = disposable(world, ids(recommend(served, user_id, n=5)))
    assert served.delete(f"/v1/items/{gone}").status_code == 204
    assert gone not in ids(recommend(served, user_id, n=80))
    assert gone not in ids(recommend(served, "someone-unknown", n=80))
    similar = served.get(f"/v1/items/{world.catalogue.items[0].id}/similar", params={"n": 80})
    assert gone not in ids(similar.json())
    assert_problem(served.get(f"/v1/items/{gone}/audience"), 404)


def test_expired_and_unpublished_items_never_appear(served: TestClient, world: World) -> None:
    user_id = world.warm_users()[2]
    candidates = ids(recommend(served, user_id, n=8))
    expiring = disposable(world, candidates)
    embargoed = disposable(world, [c for c in candidates if c != expiring])
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    update = [{"id": expiring, "expires_at": past}, {"id": embargoed, "published_at": future}]
    assert served.put("/v1/items", json={"items": update}).status_code == 200

    live = live_items(served, world)
    planted_off = {
        i.id
        for i in world.catalogue.items
        if (i.published_at or 0) > datetime.now(UTC).timestamp()
        or (i.expires_at is not None and i.expires_at <= datetime.now(UTC).timestamp())
    }
    assert planted_off, "the synthetic catalogue plants expired and future items"
    assert expiring not in live and embargoed not in live and not planted_off & live
    for user in [user_id, *world.warm_users()[10:20], "cold-nobody"]:
        answer = recommend(served, user, n=80, exclude_seen="false")
        assert set(ids(answer)) <= live
    assert set(ids(recommend(served, user_id, n=80, exclude_seen="false"))) == live


def test_category_and_tag_filters_leave_fewer_than_n(served: TestClient, world: World) -> None:
    live = live_items(served, world)
    user_id = world.warm_users()[3]
    tech = {i.id for i in world.catalogue.items if i.category == "technology"} & live
    answer = recommend(served, user_id, n=50, category="technology", exclude_seen="false")
    assert set(ids(answer)) == tech and len(tech) < 50
    fitness = {i for i, c in world.item_cluster.items() if c == 0} & live
    tagged = recommend(served, user_id, n=50, tag="topic:fitness", exclude_seen="false")
    assert set(ids(tagged)) == fitness and len(fitness) < 50
    assert recommend(served, user_id, category="no-such-category")["items"] == []
    popular = recommend(served, "someone-new", n=50, category="technology")
    assert popular["strategy"] == "popular" and set(ids(popular)) == tech


def test_similar_items_of_a_warm_item_share_its_cluster(served: TestClient, world: World) -> None:
    item = world.catalogue.items[2]  # a cluster's anchor item: old, open-ended, warm
    answer = served.get(f"/v1/items/{item.id}/similar", params={"n": 10}).json()
    assert answer["model_version"] == world.version and len(answer["items"]) == 10
    assert item.id not in ids(answer)
    assert cluster_share(world, ids(answer), world.item_cluster[item.id]) >= 0.7


def test_similar_items_of_a_cold_item_come_from_its_tags(served: TestClient, world: World) -> None:
    cold = {"id": "cold-cooking", "category": "lifestyle", **CLUSTER_ITEMS[1]}
    assert served.put("/v1/items", json={"items": [cold]}).status_code == 200
    answer = served.get("/v1/items/cold-cooking/similar", params={"n": 10}).json()
    assert len(answer["items"]) == 10 and "cold-cooking" not in ids(answer)
    assert cluster_share(world, ids(answer), cluster=1) >= 0.8
    assert any(set(entry["reasons"]) & set(cold["tags"]) for entry in answer["items"])
    assert_problem(served.get("/v1/items/no-such-item/similar"), 404)


def audience(client: TestClient, item_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/items/{item_id}/audience", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_audience_excludes_users_whose_events_arrived_after_training(
    served: TestClient, world: World
) -> None:
    item = world.catalogue.items[5].id
    first, second = ids(audience(served, item, n=5), "users")[:2]
    before_training = world.catalogue.events.ts.max()
    late = datetime.fromtimestamp(float(before_training), UTC) - timedelta(days=2)
    events = [
        {"id": "aud-now", "user_id": first, "item_id": item, "type": "click",
         "ts": datetime.now(UTC).isoformat()},
        {"id": "aud-late", "user_id": second, "item_id": item, "type": "view",
         "ts": late.isoformat()},
    ]  # fmt: skip
    assert served.post("/v1/events", json={"events": events}).status_code == 200
    now_ranked = ids(audience(served, item, n=50), "users")
    assert first not in now_ranked and second not in now_ranked
    everyone = ids(audience(served, item, n=50, exclude_seen="false"), "users")
    assert first in everyone and second in everyone


def user_share(world: World, user_ids: list[str], cluster: int) -> float:
    return float(np.mean([world.user_cluster.get(u) == cluster for u in user_ids]))


def test_audience_of_warm_and_cold_items(served: TestClient, world: World) -> None:
    warm = world.catalogue.items[3]
    answer = audience(served, warm.id, n=30)
    assert answer["model_version"] == world.version and len(answer["users"]) == 30
    seen_it = {u for u in world.user_cluster if warm.id in world.items_of_user(u)}
    assert not seen_it & set(ids(answer, "users"))  # exclude_seen by default
    # Most of the item's own cluster has seen it: judge the ranking with them left in.
    everyone = audience(served, warm.id, n=30, exclude_seen="false")
    assert user_share(world, ids(everyone, "users"), world.item_cluster[warm.id]) >= 0.7

    cold = {"id": "cold-coding", "category": "technology", **CLUSTER_ITEMS[2]}
    assert served.put("/v1/items", json={"items": [cold]}).status_code == 200
    answer = audience(served, "cold-coding", n=30)
    assert len(answer["users"]) == 30
    assert user_share(world, ids(answer, "users"), cluster=2) >= 0.7
    assert all(entry["reasons"] for entry in answer["users"])


def test_audience_inside_a_segment_or_a_tag(served: TestClient, world: World) -> None:
    item = world.catalogue.items[0].id
    members = served.get("/v1/segments/life-silent/users", params={"limit": 1000}).json()["users"]
    assert len(members) > 10
    some = audience(served, item, n=10, segment="life-silent", exclude_seen="false")
    assert len(some["users"]) == 10 and set(ids(some, "users")) <= set(members)
    every = audience(served, item, n=10_000, segment="life-silent", exclude_seen="false")
    assert sorted(ids(every, "users")) == sorted(members)  # filtered inside the search

    tagged = audience(served, item, n=10_000, tag="life:silent", exclude_seen="false")
    assert sorted(ids(tagged, "users")) == sorted(members)
    female = audience(served, item, n=20, tag="gender:f")
    for user_id in ids(female, "users"):
        tags = {t["tag"] for t in served.get(f"/v1/users/{user_id}/profile").json()["tags"]}
        assert "gender:f" in tags
    assert_problem(served.get(f"/v1/items/{item}/audience", params={"segment": "nope"}), 404)


def test_erased_user_never_appears_again(served: TestClient, world: World) -> None:
    item = world.catalogue.items[1].id
    studied = set(world.warm_users()[:STUDIED])
    ranked = ids(audience(served, item, n=50, exclude_seen="false"), "users")
    erased = next(u for u in ranked if u not in studied)
    assert served.delete(f"/v1/users/{erased}").status_code == 204
    assert erased not in ids(audience(served, item, n=10_000, exclude_seen="false"), "users")
    cold = {"id": "cold-erasure-probe", **CLUSTER_ITEMS[world.user_cluster[erased]]}
    assert served.put("/v1/items", json={"items": [cold]}).status_code == 200
    assert erased not in ids(audience(served, cold["id"], n=10_000), "users")
    assert recommend(served, erased)["strategy"] == "popular"
    assert_problem(served.get(f"/v1/users/{erased}/profile"), 404)


@pytest.mark.parametrize("n", [0, -1, 10_001])
def test_out_of_range_n_is_a_422_naming_the_field(served: TestClient, world: World, n: int) -> None:
    item, user = world.catalogue.items[0].id, world.warm_users()[0]
    for path in (
        f"/v1/items/{item}/audience",
        f"/v1/items/{item}/similar",
        f"/v1/users/{user}/recommendations",
    ):
        body = assert_problem(served.get(path, params={"n": n}), 422)
        assert body["errors"][0]["loc"] == ["query", "n"]


def test_an_erased_id_sent_again_is_a_new_person(served: TestClient, world: World) -> None:
    reused = world.warm_users()[STUDIED + 1]
    assert recommend(served, reused)["strategy"] == "personal"
    assert served.delete(f"/v1/users/{reused}").status_code == 204
    newcomer = {"id": reused, "attributes": {"gender": "m"}, "tags": {"kw:编程": 1.0}}
    assert served.put("/v1/users", json={"users": [newcomer]}).status_code == 200
    # The model still holds the erased person's history under this id; none of it may speak.
    assert recommend(served, reused)["strategy"] == "cold_start"
    profile = served.get(f"/v1/users/{reused}/profile").json()
    assert {t["source"] for t in profile["tags"]} == {"declared"}
    assert profile["lifecycle"] == "new" and profile["top_interests"] == []


def test_before_any_model(untrained_world: World) -> None:
    world = untrained_world
    with TestClient(create_app(world.settings)) as client:
        item, user = world.catalogue.items[0].id, world.warm_users()[0]
        now = datetime.now(UTC).timestamp()
        off = {
            i.id
            for i in world.catalogue.items
            if (i.published_at or 0) > now or (i.expires_at is not None and i.expires_at <= now)
        }
        popular = recommend(client, "anyone", n=80)
        assert popular["strategy"] == "popular" and popular["model_version"] is None
        assert popular["items"] and all(e["reasons"] == ["popular"] for e in popular["items"])
        assert not off & set(ids(popular))  # expired and unpublished items never appear
        deleted = ids(popular)[0]
        assert client.delete(f"/v1/items/{deleted}").status_code == 204
        assert deleted not in ids(recommend(client, "anyone", n=80))

        tech = recommend(client, "anyone", n=80, category="technology")
        assert tech["items"] and all(world.item_cluster[i] == 2 for i in ids(tech))
        tagged = recommend(client, "anyone", n=80, tag="topic:food")
        assert tagged["items"] and all(world.item_cluster[i] == 1 for i in ids(tagged))
        mine = set(ids(recommend(client, user, n=80)))
        assert mine and not mine & world.items_of_user(user)
        assert world.items_of_user(user) & set(ids(recommend(client, user, n=80, exclude_seen=0)))

        for response in (
            client.get(f"/v1/items/{item}/audience"),
            client.get(f"/v1/items/{item}/similar"),
            client.post("/v1/push-lists", json={"item_id": item, "size": 10}),
            client.get("/v1/segments/life-silent/report"),
        ):
            assert "model" in assert_problem(response, 503)["detail"]


def test_answers_match_their_documented_models(served: TestClient, world: World) -> None:
    """The per-page-view routes write their JSON by hand (api.schemas.serving): each answer
    must still be what the OpenAPI document promises, field for field."""
    user, item = world.warm_users()[0], world.catalogue.items[0].id
    for path, model in (
        (f"/v1/users/{user}/recommendations?n=5", RecommendationsOut),
        ("/v1/users/nobody-at-all/recommendations?n=5", RecommendationsOut),
        (f"/v1/items/{item}/similar?n=5", SimilarItemsOut),
        (f"/v1/items/{item}/audience?n=5", AudienceOut),
    ):
        response = served.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        parsed = model.model_validate(answer, strict=True)
        assert parsed.model_dump(mode="json") == answer
        listed = answer.get("items", answer.get("users"))
        assert listed and all(round(e["score"], 6) == e["score"] for e in listed)
