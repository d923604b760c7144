"""Fold-in of events received since the snapshot (matching/foldin.py, issue 11 item 3)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from matching.config import ALSConfig, HybridConfig, ModelConfig, SearchConfig, TagConfig
from matching.data import Snapshot
from matching.foldin import RecentEvents
from matching.model import TrainedModel
from matching.pipeline import train

# The settings as given (no model search): these tests compare with that config's equations.
CONFIG = ModelConfig(
    als=ALSConfig(factors=16, iterations=15),
    hybrid=HybridConfig(tag_dim=8),
    search=SearchConfig(trials=0),
)
NO_EVENTS = RecentEvents(item_ids=[], types=[], values=[], ts=[])
FOOD, YOGA = "food", "yoga"  # two of conftest.make_planted's clusters
SNAPSHOT_TIME = 1_700_000_000.0  # conftest.SNAPSHOT_TIME, checked by the fixture


@pytest.fixture(scope="module")
def foldin_model(engine_planted) -> TrainedModel:
    assert engine_planted.snapshot.now == SNAPSHOT_TIME
    return train(engine_planted.snapshot, CONFIG, version="foldin", evaluate=False)


def _recent(item_ids: list[str], kind: str = "like", start: float = SNAPSHOT_TIME) -> RecentEvents:
    return RecentEvents(
        item_ids=item_ids,
        types=[kind] * len(item_ids),
        values=[None] * len(item_ids),
        ts=[start + 60.0 * (i + 1) for i in range(len(item_ids))],
    )


def _cluster(planted, name: str) -> int:
    categories = [item.category for item in planted.snapshot.items]
    return int(planted.item_cluster[categories.index(name)])


def _warm_user(planted, name: str) -> int:
    users = np.flatnonzero(planted.user_cluster == _cluster(planted, name))
    return int(np.setdiff1d(users, planted.cold_users)[0])


def _cluster_items(planted, name: str) -> list[str]:
    rows = np.setdiff1d(
        np.flatnonzero(planted.item_cluster == _cluster(planted, name)), planted.cold_items
    )
    return [f"i{row}" for row in rows]


def _share_in(planted, item_ids: list[str], name: str) -> float:
    rows = [int(i[1:]) for i in item_ids]
    return float(np.mean(planted.item_cluster[rows] == _cluster(planted, name)))


def _ids(answer) -> list[str]:
    return [scored.id for scored in answer.items]


@pytest.fixture(scope="module")
def predicted_model(engine_planted) -> TrainedModel:
    """Every third user without attributes (so occupations get predicted), two interest tags
    per user (so the behavioural part is cut to its top tags)."""
    snapshot = engine_planted.snapshot
    users = [
        replace(user, attributes={}) if row % 3 == 0 else user
        for row, user in enumerate(snapshot.users)
    ]
    tags = TagConfig(behaviour_top_tags=2, predict_namespaces=("occupation",))
    config = CONFIG.model_copy(update={"tags": tags})
    part = Snapshot(users=users, items=snapshot.items, events=snapshot.events, now=snapshot.now)
    return train(part, config, version="foldin-predicted", evaluate=False)


@pytest.mark.parametrize("which", ["foldin_model", "predicted_model"])
def test_folding_in_own_snapshot_events_reproduces_the_trained_vector(which, request):
    model = request.getfixturevalue(which)
    state = model.foldin()
    warm = np.flatnonzero(np.diff(model.seen.indptr) > 0)[:30]
    predicted = 0
    for row in warm:
        folded = state.fold(int(row), NO_EVENTS)
        assert folded is not None
        trained = np.asarray(model.user_vectors[row])
        cosine = folded.query @ trained / np.linalg.norm(folded.query) / np.linalg.norm(trained)
        assert cosine > 0.999
        assert np.linalg.norm(folded.query - trained) < 0.01 * np.linalg.norm(trained)
        expected_tags = model.user_tags(np.array([row])).to_csr(len(model.tagspace.tags)).toarray()
        np.testing.assert_allclose(folded.tags.toarray(), expected_tags, atol=1e-5)
        predicted += model.tagspace.user_predicted[row].nnz
    if which == "predicted_model":
        assert predicted > 0


def test_the_solve_is_implicits_recalculate_user(foldin_model):
    """Same equations as implicit's ALS user step, on the model's own item factors."""
    space = foldin_model.space
    f = space.n_factors
    item_factors = (
        np.asarray(foldin_model.item_vectors[:, :f], np.float64)
        * space.item_cf_scale
        / np.sqrt(1 - space.tag_share)
    )
    cold = np.bincount(foldin_model.seen.indices, minlength=len(foldin_model.items)) == 0
    item_factors[cold] = 0.0  # ALS never fitted them
    reference = AlternatingLeastSquares(
        factors=f, regularization=CONFIG.als.regularization, alpha=1.0, dtype=np.float32
    )
    reference.item_factors = item_factors.astype(np.float32)
    rows = np.array([1, 4, 7, 20, 33])
    weights = np.array([1.0, 2.5, 0.3, 3.0, 1.0])
    confidence = sp.csr_matrix(
        (1.0 + CONFIG.als.alpha * weights, (np.zeros(len(rows)), rows)),
        shape=(1, len(foldin_model.items)),
        dtype=np.float32,
    )
    expected = reference.recalculate_user(0, confidence)
    ours = foldin_model.foldin().solve(rows, weights)
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4)


def test_recent_events_on_another_cluster_move_recommendations_toward_it(
    foldin_model, engine_planted
):
    user = _warm_user(engine_planted, YOGA)
    food = _cluster_items(engine_planted, FOOD)
    before = foldin_model.recommend(f"u{user}", 10, exclude_seen=False)
    after = foldin_model.recommend(
        f"u{user}", 10, exclude_seen=False, recent_events=_recent(food[:12] * 2)
    )
    assert before.strategy == after.strategy == "personal"
    assert _share_in(engine_planted, _ids(before), FOOD) <= 0.2
    assert _share_in(engine_planted, _ids(after), FOOD) >= 0.5


def test_a_user_created_after_the_snapshot_gets_a_personal_answer(foldin_model, engine_planted):
    food = _cluster_items(engine_planted, FOOD)
    without = foldin_model.recommend("new-user", 10)
    answer = foldin_model.recommend("new-user", 10, recent_events=_recent(food[:4]))
    assert without.strategy == "popular"
    assert answer.strategy == "personal"
    assert _share_in(engine_planted, _ids(answer), FOOD) >= 0.6
    assert not set(_ids(answer)) & set(food[:4])  # exclude_seen covers the recent items


def test_recent_items_are_excluded_only_when_exclude_seen(foldin_model, engine_planted):
    user = _warm_user(engine_planted, FOOD)
    food = _cluster_items(engine_planted, FOOD)
    recent = _recent(food[:6] * 3)
    excluded = foldin_model.recommend(f"u{user}", 20, recent_events=recent)
    kept = foldin_model.recommend(f"u{user}", 20, recent_events=recent, exclude_seen=False)
    assert not set(_ids(excluded)) & set(food[:6])
    assert set(_ids(kept)) & set(food[:6])


def test_unknown_item_ids_are_ignored(foldin_model, engine_planted):
    user = _warm_user(engine_planted, YOGA)
    food = _cluster_items(engine_planted, FOOD)[:3]
    known = foldin_model.recommend(f"u{user}", 10, recent_events=_recent(food))
    mixed = RecentEvents(
        item_ids=["nope-1", food[0], food[1], "nope-2", food[2]],
        types=["like"] * 5,
        values=[None] * 5,
        ts=[SNAPSHOT_TIME + 30.0, *_recent(food[:2]).ts, SNAPSHOT_TIME + 90.0, _recent(food).ts[2]],
    )
    assert foldin_model.recommend(f"u{user}", 10, recent_events=mixed) == known
    plain = foldin_model.recommend(f"u{user}", 10)
    only_unknown = foldin_model.recommend(f"u{user}", 10, recent_events=_recent(["nope-1"]))
    assert only_unknown == plain
    assert foldin_model.recommend("new-user", 5, recent_events=_recent(["nope"])).strategy == (
        "popular"
    )


def test_empty_recent_events_leave_the_answer_unchanged(foldin_model, engine_planted):
    for user_id in (f"u{_warm_user(engine_planted, FOOD)}", "u0", "someone-new"):
        plain = foldin_model.recommend(user_id, 10)
        assert foldin_model.recommend(user_id, 10, recent_events=NO_EVENTS) == plain


def test_fold_in_on_a_memory_mapped_model(foldin_model, engine_planted, tmp_path):
    foldin_model.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m", mmap=True)
    user = f"u{_warm_user(engine_planted, YOGA)}"
    recent = _recent(_cluster_items(engine_planted, FOOD)[:5])
    assert loaded.recommend(user, 10, recent_events=recent) == foldin_model.recommend(
        user, 10, recent_events=recent
    )


def test_recent_events_with_ragged_fields_are_refused():
    with pytest.raises(ValueError, match="one entry per event"):
        RecentEvents(item_ids=["a", "b"], types=["view"], values=[None, None], ts=[1.0, 2.0])


def test_an_event_dated_far_ahead_does_not_erase_the_users_history(foldin_model, engine_planted):
    """Ingest accepts any timestamp; decay counts from the snapshot, so one event dated in
    3000 weighs like any new event instead of decaying everything before it to nothing."""
    user = f"u{_warm_user(engine_planted, YOGA)}"
    far_ahead = RecentEvents(
        item_ids=[_cluster_items(engine_planted, FOOD)[0]],
        types=["like"],
        values=[None],
        ts=[32_503_680_000.0],  # 3000-01-01
    )
    answer = foldin_model.recommend(user, 10, recent_events=far_ahead)
    assert answer.strategy == "personal"
    assert _share_in(engine_planted, _ids(answer), YOGA) >= 0.6
