"""The model search and the ranking stage on planted clusters: seeded, budgeted, never looking
at the gate's holdout, and one ranking pipeline for serving and evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching import pipeline
from matching.als import interaction_matrix
from matching.base import PAD_ID
from matching.config import (
    ALSConfig,
    EvalConfig,
    HybridConfig,
    ModelConfig,
    RankingConfig,
    SearchConfig,
)
from matching.evaluate import time_holdout
from matching.foldin import RecentEvents
from matching.item_item import fit_ease
from matching.pipeline import train
from matching.ranking import (
    FEATURES,
    ITEM_ITEM_ONLY,
    RETRIEVAL_ONLY,
    Candidates,
    Ranker,
    RankingStage,
    gather,
    rank_batch,
)
from matching.ranking_fit import Fold, learn_ranker
from matching.search import apply, params_of, search, validation_split

BASE = ModelConfig(
    als=ALSConfig(factors=8, iterations=4),
    hybrid=HybridConfig(tag_dim=4),
    eval=EvalConfig(holdout_days=5),
    search=SearchConfig(trials=3, seconds=0, seed=3),
)


def test_budget_zero_uses_the_config_as_given_and_still_learns_the_ranker(engine_planted):
    given = BASE.model_copy(update={"search": SearchConfig(trials=0)})
    outcome = search(engine_planted.snapshot, given)
    assert outcome.config == given and outcome.trials == []
    assert outcome.validation_ndcg is not None
    assert outcome.ranking["ranker"] in {
        "lambdarank",
        "retrieval",
        "item_item",
        "blend",
        "sequence blend",
    }
    assert set(outcome.ranking["check_ndcg"]) >= {"retrieval", "item_item"}
    assert outcome.ranker.weights.shape == (len(FEATURES),)


def test_search_is_seeded_starts_from_the_given_config_and_keeps_the_best(engine_planted):
    first = search(engine_planted.snapshot, BASE)
    again = search(engine_planted.snapshot, BASE)
    assert [t["params"] for t in first.trials] == [t["params"] for t in again.trials]
    assert len(first.trials) == 3
    assert first.trials[0]["params"] == params_of(BASE)  # trial 0 is what was asked for
    scores = [t["ndcg@10"] for t in first.trials]
    assert first.validation_ndcg == pytest.approx(max(scores))
    best = first.trials[int(np.argmax(scores))]["params"]
    assert params_of(first.config) == pytest.approx(best)
    assert first.config.eval == BASE.eval and first.config.search == BASE.search


def test_decay_off_is_a_searchable_setting():
    params = {**params_of(BASE), "decay": "off"}
    params.pop("events.half_life_days")
    assert apply(BASE, params).events.half_life_days is None
    assert params_of(apply(BASE, params)) == params


def test_the_search_never_sees_the_gates_holdout(engine_planted, monkeypatch):
    snapshot = engine_planted.snapshot
    _, test_mask = time_holdout(snapshot.events, BASE.eval)
    test_start = snapshot.events.ts[test_mask].min()
    seen_by_search: list[float] = []
    real_search = pipeline.search

    def spy(part, config, tags=None, records=None):
        seen_by_search.append(float(part.events.ts.max()))
        fit, val = validation_split(part, config)
        assert fit.any() and val.any() and not (fit & val).any()
        return real_search(part, config, tags, records)

    monkeypatch.setattr(pipeline, "search", spy)
    model = train(snapshot, BASE, version="v-spy")
    assert seen_by_search and max(seen_by_search) < test_start
    assert model.metrics["search"]["trials"] == 3 and model.metrics["evaluated"]


def test_serving_and_evaluation_rank_through_the_same_stage(engine_planted):
    model = train(engine_planted.snapshot, BASE, version="v-rank", evaluate=False)
    assert model.ranking is not None
    width = model.config.ranking.candidates
    for user in ("u0", "u31", "u65"):
        row = model.users.index(user)
        served = model.recommend(user, 5).items
        seen = model.interacted_items(row)
        query = np.asarray(model.user_vectors[row])[None, :]
        candidates, retrieval = model.item_index.search(query, width, None, seen)
        history = sp.csr_matrix(
            (np.ones(len(seen), np.float32), seen, [0, len(seen)]), shape=(1, len(model.items))
        )
        rows, scores = rank_batch(
            model.ranking, query, model.item_vectors, model.space.n_factors, history,
            candidates, retrieval, 5,
        )  # fmt: skip
        assert [s.id for s in served] == model.items.lookup(rows[0])
        assert [s.score for s in served] == pytest.approx(scores[0].tolist())


def test_retrieval_only_weights_keep_faiss_order(engine_planted):
    config = BASE.model_copy(update={"ranking": RankingConfig(enabled=False)})
    plain = train(engine_planted.snapshot, config, version="plain", evaluate=False)
    assert plain.ranking is None
    events = engine_planted.snapshot.events
    interactions = interaction_matrix(events, plain.seen.shape[0], plain.seen.shape[1])
    stage = RankingStage.fit(interactions, events, RankingConfig(), Ranker(RETRIEVAL_ONLY))
    row = plain.users.index("u3")
    seen = plain.interacted_items(row)
    query = np.asarray(plain.user_vectors[row])[None, :]
    candidates, retrieval = plain.item_index.search(query, 50, None, seen)
    history = sp.csr_matrix(
        (np.ones(len(seen), np.float32), seen, [0, len(seen)]), shape=(1, len(plain.items))
    )
    rows, _ = rank_batch(
        stage, query, plain.item_vectors, plain.space.n_factors, history, candidates, retrieval, 8
    )
    assert rows[0].tolist() == candidates[0, :8].tolist()
    assert [s.id for s in plain.recommend("u3", 8).items] == plain.items.lookup(rows[0])


def test_ease_matches_its_closed_form():
    rng = np.random.default_rng(1)
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    weights = fit_ease(sp.csr_matrix(x), 5.0)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(12))
    expected = np.eye(12) - p / np.diag(p)
    assert np.allclose(weights, expected, atol=1e-5) and not np.diag(weights).any()


@pytest.mark.parametrize(("weighting", "half_life"), [("linear", 5.0), ("log", None)])
def test_fold_in_decays_and_weights_as_training_did(engine_planted, weighting, half_life):
    """Searched settings reach fold-in: decay from the newest snapshot event (the planted
    events end before the snapshot time) and the confidence curve. (Log weighting with a
    short half-life leaves confidences near 1, where ALS is still moving after 40 sweeps.)"""
    config = BASE.model_copy(
        update={
            "als": ALSConfig(factors=8, iterations=40, weighting=weighting),
            "search": SearchConfig(trials=0),
            "events": BASE.events.model_copy(update={"half_life_days": half_life}),
        }
    )
    model = train(engine_planted.snapshot, config, version="fold", evaluate=False)
    empty = RecentEvents(item_ids=[], types=[], values=[], ts=[])
    for row in np.flatnonzero(np.diff(model.seen.indptr) > 0)[:10]:
        folded = model.foldin().fold(int(row), empty)
        assert folded is not None
        trained = np.asarray(model.user_vectors[row])
        cosine = folded.query @ trained / np.linalg.norm(folded.query) / np.linalg.norm(trained)
        assert cosine > 0.999


@pytest.mark.parametrize("ease_max_items", [4000, 10])  # EASE, then sparse item-kNN
def test_item_item_candidates_join_retrievals_within_the_same_exclusions(
    engine_planted, ease_max_items
):
    """The second candidate source: the item-item top k beside FAISS's, never an excluded or
    filtered-out item, and the ranker sees every one of them."""
    config = BASE.model_copy(update={"ranking": RankingConfig(ease_max_items=ease_max_items)})
    model = train(engine_planted.snapshot, config, version="v-cand", evaluate=False)
    stage = model.ranking
    assert stage is not None
    n_items = len(model.items)
    row = model.users.index("u5")
    seen = model.interacted_items(row)
    history = sp.csr_matrix(
        (np.ones(len(seen), np.float32), seen, [0, len(seen)]), shape=(1, n_items)
    )
    query = np.asarray(model.user_vectors[row])[None, :]
    allowed = np.ones(n_items, bool)
    allowed[::4] = False  # a filter: every fourth item is not allowed
    retrieved, _ = model.item_index.search(query, 5, np.flatnonzero(allowed), seen)
    found = gather(
        stage, query, model.item_vectors, model.space.n_factors, history, retrieved,
        history, allowed,
    )  # fmt: skip
    rows = found.rows[0][found.rows[0] >= 0]
    assert rows[: len(retrieved[0])].tolist() == retrieved[0].tolist()
    matrix = stage.item_item_dense
    if matrix is None:
        assert stage.item_item_sparse is not None
        matrix = stage.item_item_sparse.toarray()
    scores = np.asarray(matrix)[seen].sum(axis=0)
    reached = scores != 0 if stage.item_item_dense is None else np.ones(n_items, bool)
    scores[~reached] = -np.inf  # the sparse source proposes only items it reaches
    scores[seen] = -np.inf
    scores[~allowed] = -np.inf
    best = np.argsort(-scores, kind="stable")[: stage.item_item_candidates]
    best = best[np.isfinite(scores[best])]
    assert set(best.tolist()) <= set(rows.tolist())
    assert not set(rows.tolist()) & set(seen.tolist()) and allowed[rows].all()
    assert len(set(rows.tolist())) == len(rows) and found.features.shape[-1] == len(FEATURES)
    served = model.recommend("u5", 10, allowed_item_rows=np.flatnonzero(allowed)).items
    assert served and allowed[model.item_rows([s.id for s in served])].all()


def _fold_where_a_feature_pair_decides(seed: int, users: int = 300, width: int = 40) -> Fold:
    """Candidates whose truth is "popularity high AND item_item high": neither single order
    finds it, a learned ranker can."""
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.permutation(500)[:width] for _ in range(users)])
    features = rng.normal(size=(users, width, len(FEATURES)))
    pop, item = FEATURES.index("popularity"), FEATURES.index("item_item")
    good = (features[..., pop] > 0.8) & (features[..., item] > 0.8)
    user_rows, cols = np.nonzero(good)
    truth = sp.csr_matrix(
        (np.ones(len(user_rows)), (user_rows, rows[user_rows, cols])), shape=(users, 500)
    )
    return Fold(np.arange(users), Candidates(rows, features), truth)


def test_the_learned_ranker_is_kept_only_where_it_beats_single_orders():
    stage = RankingStage(
        None, None, None, np.zeros(1), np.zeros(1), np.zeros(1), Ranker(RETRIEVAL_ONLY)
    )
    config = RankingConfig(ranker_trees=50)
    learned = learn_ranker(stage, [_fold_where_a_feature_pair_decides(1)], config, 10)
    assert learned.chosen == "lambdarank" and learned.ranker.model is not None
    scores = learned.check_ndcg
    assert scores["lambdarank"] > max(scores["retrieval"], scores["item_item"]) + 0.1
    assert learned.summary()["weights"]["popularity"] > 0.1

    # truth that is exactly the item-item order: no learned model can beat it, so it is kept
    fold = _fold_where_a_feature_pair_decides(2)
    item = fold.found.features[..., FEATURES.index("item_item")]
    top = np.argsort(-item, axis=1)[:, :3]
    users = np.repeat(np.arange(len(item)), 3)
    truth = sp.csr_matrix(
        (np.ones(users.size), (users, np.take_along_axis(fold.found.rows, top, 1).ravel())),
        shape=fold.truth.shape,
    )
    plain = learn_ranker(stage, [Fold(fold.users, fold.found, truth)], config, 10)
    assert plain.chosen == "item_item" and plain.ranker.model is None
    assert np.array_equal(plain.ranker.weights, ITEM_ITEM_ONLY)


def _truth_of_top(fold: Fold, scores: np.ndarray, count: int = 3) -> sp.csr_matrix:
    top = np.argsort(-scores, axis=1)[:, :count]
    users = np.repeat(np.arange(len(scores)), count)
    rows = np.take_along_axis(fold.found.rows, top, 1).ravel()
    return sp.csr_matrix((np.ones(users.size), (users, rows)), shape=fold.truth.shape)


def test_the_blend_of_joint_and_item_item_scores_is_kept_where_it_is_the_best_order():
    """Truth that is the top of joint + item-item scores: neither single order finds it, the
    blend with weight 1 does exactly, and a learned model cannot beat exact."""
    stage = RankingStage(
        None, None, None, np.zeros(1), np.zeros(1), np.zeros(1), Ranker(RETRIEVAL_ONLY)
    )
    fold = _fold_where_a_feature_pair_decides(3)
    features = fold.found.features
    both = features[..., FEATURES.index("retrieval")] + features[..., FEATURES.index("item_item")]
    truth = _truth_of_top(fold, both)
    learned = learn_ranker(
        stage, [Fold(fold.users, fold.found, truth)], RankingConfig(ranker_trees=20), 10
    )
    assert learned.chosen == "blend" and learned.ranker.model is None
    assert learned.check_ndcg["blend"] == pytest.approx(1.0)
    assert learned.check_ndcg["blend"] > max(
        learned.check_ndcg["retrieval"], learned.check_ndcg["item_item"]
    )
    weights = learned.summary()["weights"]
    assert weights["retrieval"] == 1.0 and weights["item_item"] == 1.0
    assert sum(abs(v) for v in weights.values()) == 2.0


def test_sparse_item_item_top_pads_a_history_that_reaches_nothing(engine_planted):
    """Item-kNN (catalogues above ease_max_items): a user whose history reaches no eligible
    item (all excluded, or nothing filtered in) gets padding, not an error that stops the
    training run's ranker folds."""
    config = BASE.model_copy(update={"ranking": RankingConfig(ease_max_items=10)})
    model = train(engine_planted.snapshot, config, version="v-knn", evaluate=False)
    stage = model.ranking
    assert stage is not None and stage.item_item_sparse is not None
    n_items = len(model.items)
    seen = model.interacted_items(model.users.index("u5"))
    scores = stage.item_item_scores([seen, np.zeros(0, np.int64)])
    reached = np.asarray(scores.to_csr(n_items)[0].toarray()).ravel() != 0
    everything = np.arange(n_items)
    top = stage.item_item_top(scores, [everything, everything], None, 4)
    assert (top == PAD_ID).all()
    nothing_allowed = stage.item_item_top(scores, [seen, seen], np.zeros(n_items, bool), 4)
    assert (nothing_allowed == PAD_ID).all()
    some = stage.item_item_top(scores, [seen, seen], None, 4)
    assert reached.any() and (some[0] != PAD_ID).any() and (some[1] == PAD_ID).all()


def test_a_family_is_scored_by_members_chosen_without_the_part_they_are_scored_on():
    from matching.ranking_fit import _nested

    # "steady" is best on every part but the first; "lucky" wins the first part only
    members = {"steady": np.array([1.0, 2.0, 2.0, 2.0]), "lucky": np.array([5.0, 0.0, 0.0, 0.0])}
    assert _nested(members) == 1.0 + 2.0 + 2.0 + 2.0  # part 0 gets steady (best elsewhere)
    # forty members of pure noise: the best one's own total is a maximum over luck, the
    # nested score is not
    rng = np.random.default_rng(0)
    noise = {str(i): rng.normal(size=4) for i in range(40)}
    assert max(v.sum() for v in noise.values()) > 3.0 > _nested(noise)
