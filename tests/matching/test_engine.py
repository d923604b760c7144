"""The engine on planted taste clusters: it must find them, cold start included."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.config import (
    ALSConfig,
    EvalConfig,
    EventConfig,
    HybridConfig,
    ModelConfig,
    SearchConfig,
)
from matching.data import EventLog, Snapshot
from matching.model import TrainedModel
from matching.pipeline import gate, train
from matching.reasons import shared_tags
from matching.sparse_rows import SparseRows
from matching.vocabulary import Vocabulary

CONFIG = ModelConfig(
    als=ALSConfig(factors=16, iterations=10),
    hybrid=HybridConfig(tag_dim=8),
    eval=EvalConfig(holdout_days=5),
    search=SearchConfig(trials=0),
)


@pytest.fixture(scope="module")
def engine_model(engine_planted) -> TrainedModel:
    return train(engine_planted.snapshot, CONFIG, version="v1")


def _item_clusters(model, planted, scored) -> np.ndarray:
    return planted.item_cluster[model.item_rows([s.id for s in scored])]


def _user_clusters(model, planted, scored) -> np.ndarray:
    return planted.user_cluster[model.user_rows([s.id for s in scored])]


def test_recommendations_come_from_the_users_cluster(engine_model, engine_planted):
    warm = np.setdiff1d(np.arange(len(engine_planted.user_cluster)), engine_planted.cold_users)
    shares = []
    for row in warm:
        result = engine_model.recommend(f"u{row}", 5)
        assert result.strategy == "personal" and len(result.items) == 5
        seen = set(engine_model.seen[row].indices.tolist())
        assert not seen & set(engine_model.item_rows([s.id for s in result.items]).tolist())
        shares.append(
            np.mean(
                _item_clusters(engine_model, engine_planted, result.items)
                == engine_planted.user_cluster[row]
            )
        )
    assert np.mean(shares) >= 0.8


def test_cold_user_with_cluster_attributes_gets_cluster_items(engine_model, engine_planted):
    for cluster, occupation in enumerate(("athlete", "chef", "engineer")):
        result = engine_model.recommend(None, 6, attributes={"occupation": occupation})
        assert result.strategy == "cold_start"
        assert np.mean(_item_clusters(engine_model, engine_planted, result.items) == cluster) >= 0.8
    for row in engine_planted.cold_users:  # known, no events: their stored attributes
        result = engine_model.recommend(f"u{row}", 4)
        assert result.strategy == "cold_start"
        assert (
            np.mean(
                _item_clusters(engine_model, engine_planted, result.items)
                == engine_planted.user_cluster[row]
            )
            >= 0.75
        )


def test_unknown_user_without_attributes_gets_popular(engine_model):
    result = engine_model.recommend("stranger", 3, exclude_item_ids=["i0"])
    assert result.strategy == "popular" and len(result.items) == 3
    assert [s.reasons for s in result.items] == [["popular"]] * 3
    assert [s.score for s in result.items] == sorted((s.score for s in result.items), reverse=True)


def test_audience_of_cold_items_is_their_cluster(engine_model, engine_planted):
    for row in engine_planted.cold_items:  # in the catalogue, no events
        audience = engine_model.audience(f"i{row}", 10)
        assert len(audience) == 10
        assert (
            np.mean(
                _user_clusters(engine_model, engine_planted, audience)
                == engine_planted.item_cluster[row]
            )
            >= 0.8
        )
    new_item = engine_model.audience(None, 10, title="new tech gadget", tags={"topic:tech": 1.0})
    assert np.mean(_user_clusters(engine_model, engine_planted, new_item) == 2) >= 0.8
    assert "topic:tech" in new_item[0].reasons
    assert engine_model.audience(None, 5, title="", tags={"never:seen": 1.0}) == []


def test_filters_and_reasons(engine_model, engine_planted):
    food = engine_model.items_in_category("food")
    assert set(engine_planted.item_cluster[food].tolist()) == {1}
    assert np.array_equal(np.sort(engine_model.items_with_tag("topic:food")), np.sort(food))
    result = engine_model.recommend("u0", 4, allowed_item_rows=food, exclude_item_ids=["i20"])
    rows = engine_model.item_rows([s.id for s in result.items])
    assert len(rows) == 4 and set(rows.tolist()) <= set(food.tolist()) and 20 not in rows
    personal = engine_model.recommend("u0", 3).items
    assert all("topic:yoga" in s.reasons for s in personal)
    assert any("users like you" in s.reasons for s in personal)
    allowed_users = np.arange(0, 90, 2)
    audience = engine_model.audience(
        "i1", 5, allowed_user_rows=allowed_users, exclude_user_ids=["u0"]
    )
    assert all(r % 2 == 0 and r != 0 for r in engine_model.user_rows([s.id for s in audience]))


def test_similar_items_known_and_new(engine_model, engine_planted):
    similar = engine_model.similar_items("i3", 5)
    assert "i3" not in [s.id for s in similar]
    assert np.mean(_item_clusters(engine_model, engine_planted, similar) == 0) >= 0.8
    new = engine_model.similar_items(None, 5, tags={"topic:food": 1.0})
    assert np.mean(_item_clusters(engine_model, engine_planted, new) == 1) >= 0.8


def test_training_measures_and_the_first_model_must_beat_most_popular(engine_model):
    metrics = engine_model.metrics
    assert metrics["evaluated"] and metrics["ndcg@10"] > 0.2 and metrics["cold_auc"] > 0.7
    popular = metrics["most_popular"]["ndcg@10"]
    assert metrics["ndcg@10"] > popular and "active" not in metrics
    accept, reason = gate(metrics, 0.02)
    assert accept and "most popular" in reason
    accept, reason = gate({"evaluated": True, "ndcg@10": 0.1, "most_popular": {"ndcg@10": 0.1}}, 0)
    assert not accept and "must beat most popular" in reason


def test_the_paired_gate_compares_numbers_from_the_same_holdout():
    def run(candidate: float, active: float) -> tuple[bool, str]:
        metrics = {
            "evaluated": True,
            "ndcg@10": candidate,
            "active": {"ndcg@10": active},
            "most_popular": {"ndcg@10": 0.5},  # a later model is judged against the active
        }
        return gate(metrics, 0.02)

    assert not run(0.30, 0.40)[0] and "refused" in run(0.30, 0.40)[1]
    assert run(0.395, 0.40)[0] and "same holdout" in run(0.395, 0.40)[1]
    assert not gate({"evaluated": False}, 0.02)[0]


def test_evaluation_scores_a_seeded_sample_the_same_for_both_sides_of_the_gate(
    engine_model, engine_planted
):
    everyone = engine_model.metrics["users"]
    sampled = CONFIG.model_copy(
        update={"eval": CONFIG.eval.model_copy(update={"max_users": 25, "max_cold_items": 3})}
    )
    metrics = train(engine_planted.snapshot, sampled, previous=engine_model, version="s").metrics
    assert everyone > 25 and engine_model.metrics["cold_items"] > 3
    assert metrics["users"] == metrics["active"]["users"] == 25
    assert metrics["most_popular"]["users"] == 25 and metrics["cold_items"] <= 3
    assert gate(metrics, 1.0)[0]  # paired numbers, both present


def test_config_digest_follows_config():
    base = ModelConfig()
    assert base.digest() == ModelConfig().digest()
    assert base.digest() != ModelConfig(hybrid=HybridConfig(tag_share=0.5)).digest()
    assert base.digest() != ModelConfig(als=ALSConfig(factors=8)).digest()


def test_retrain_keeps_tag_columns(engine_model, engine_planted):
    again = train(engine_planted.snapshot, CONFIG, previous=engine_model, evaluate=False)
    old = engine_model.tagspace.tags.to_list()
    assert again.tagspace.tags.to_list()[: len(old)] == old
    assert not again.metrics["evaluated"] and "ndcg@10" not in again.metrics
    assert again.metrics["search"]["trials"] == 0  # budget 0: the config as given
    assert again.config == CONFIG


def test_exclude_seen_covers_every_snapshot_event_even_weightless_ones(engine_planted):
    """An impression weighted 0 adds nothing to ALS (not in `seen`), but the user did see
    the item: exclude_seen must drop it in both directions."""
    base = engine_planted.snapshot
    shown = [40, 41, 42]  # tech items, far from u0's yoga taste
    events = EventLog.from_columns(
        user=np.concatenate([base.events.user, [0, 0, 0]]),
        item=np.concatenate([base.events.item, shown]),
        types=[*np.asarray(base.events.type_names)[base.events.type_code], *["impression"] * 3],
        ts=np.concatenate([base.events.ts, [base.now - 60.0] * 3]),
    )
    snapshot = Snapshot(users=base.users, items=base.items, events=events, now=base.now)
    weights = {**CONFIG.events.weights, "impression": 0.0}
    config = CONFIG.model_copy(update={"events": EventConfig(weights=weights)})
    model = train(snapshot, config, version="v-impressions", evaluate=False)
    assert not set(shown) & set(model.seen[0].indices.tolist())
    assert set(shown) <= set(model.interacted_items(0).tolist())

    def recommended(exclude_seen: bool) -> set[int]:
        answer = model.recommend("u0", 60, exclude_seen=exclude_seen)
        return set(model.item_rows([s.id for s in answer.items]).tolist())

    assert not set(shown) & recommended(True)
    assert set(shown) <= recommended(False)
    for row in shown:
        item = f"i{row}"
        audience = {s.id for s in model.audience(item, 90, exclude_seen=True)}
        everyone = {s.id for s in model.audience(item, 90)}
        seen_by = set(model.users.lookup(model.interacted_users(row)))
        assert "u0" in seen_by and not seen_by & audience and seen_by <= everyone


def test_shared_tags_strongest_first_ties_by_column_cut_at_top():
    tags = Vocabulary.from_list(["a", "b", "c", "d"])
    query = sp.csr_matrix(np.array([[1.0, 0.5, 1.0, 0.0]], np.float32))
    candidates = sp.csr_matrix(
        np.array(
            [
                [0.2, 1.0, 0.2, 1.0],  # products a 0.2, b 0.5, c 0.2: b, then a/c tie by column
                [0.0, 0.0, 0.0, 1.0],  # nothing shared
                [0.0, 0.0, 0.9, 0.0],
            ],
            np.float32,
        )
    )
    query_row, rows = SparseRows.of(query), SparseRows.of(candidates)
    assert shared_tags(query_row, rows, tags, top=2) == [["b", "a"], [], ["c"]]
    assert shared_tags(query_row, rows, tags, top=5) == [["b", "a", "c"], [], ["c"]]
    assert shared_tags(query_row, SparseRows.of(candidates[:0]), tags, top=2) == []
    # Rows gathered out of order and repeated give the same answers per row.
    gathered = SparseRows.take(candidates, np.array([2, 0, 2]))
    assert shared_tags(query_row, gathered, tags, top=2) == [["c"], ["b", "a"], ["c"]]
    assert shared_tags(SparseRows.of(query[:, :0].tocsr()), rows, tags, top=2) == [[], [], []]


def test_warm_builds_the_serving_caches_and_changes_no_answer(engine_planted):
    model = train(engine_planted.snapshot, CONFIG, version="v-warm", evaluate=False)
    cold = [model.audience("i1", 5), model.recommend("u0", 5).items]
    fresh = train(engine_planted.snapshot, CONFIG, version="v-warm", evaluate=False).warm()
    assert fresh._user_matrix is not None and fresh._interacted is not None
    assert fresh._interacted_by_item is not None
    assert [fresh.audience("i1", 5), fresh.recommend("u0", 5).items] == cold


def test_shared_tags_match_a_row_by_row_reference() -> None:
    """Random candidates (empty rows, unsorted columns, zero and negative weights) against
    the definition, one row at a time, with the appended reason."""
    rng = np.random.default_rng(7)
    tags = Vocabulary.from_list([f"t{i}" for i in range(30)])
    for _ in range(200):
        n, top = int(rng.integers(1, 12)), int(rng.integers(1, 5))
        dense = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0, -0.5], size=(n + 1, 30)).astype(np.float32)
        query, candidates = sp.csr_matrix(dense[:1]), sp.csr_matrix(dense[1:])
        shuffled = SparseRows.of(candidates)
        for r in range(n):  # columns out of order within each row
            lo, hi = shuffled.indptr[r], shuffled.indptr[r + 1]
            order = lo + rng.permutation(hi - lo)
            shuffled.indices[lo:hi], shuffled.data[lo:hi] = (
                shuffled.indices[order].copy(),
                shuffled.data[order].copy(),
            )
        where = rng.random(n) < 0.5
        got = shared_tags(SparseRows.of(query), shuffled, tags, top, then=("cf", where))
        expected = []
        for r in range(n):
            products = [(float(dense[0, c] * dense[r + 1, c]), c) for c in range(30)]
            shared = sorted((-p, c) for p, c in products if p != 0)[:top]
            expected.append([f"t{c}" for _, c in shared] + (["cf"] if where[r] else []))
        assert got == expected
