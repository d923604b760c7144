"""Answers stored at training (matching/precomputed.py): the same as the online path's, for
every stored user and item, through a save and a memory-mapped load; what they drop; when
they are not used."""

from __future__ import annotations

import json
from dataclasses import replace

import lightgbm
import numpy as np
import pytest

from matching import precomputed
from matching.config import (
    ALSConfig,
    HybridConfig,
    ModelConfig,
    RankingConfig,
    SearchConfig,
    ServingConfig,
)
from matching.data import Snapshot
from matching.model import TrainedModel
from matching.pipeline import train
from matching.precomputed import NAMES, PREFIX, file_name, precompute, stored_users
from matching.ranking import FEATURES, Ranker
from tests.matching.conftest import make_planted

SERVING = ServingConfig(precomputed_items=30, precomputed_users=60, precomputed_max_users=300)
RANKING = {  # the item-to-item part dense (EASE) or sparse (item-kNN), and no ranking stage
    "ease": RankingConfig(candidates=40, item_item_candidates=20),
    "knn": RankingConfig(candidates=40, item_item_candidates=20, ease_max_items=0),
    "off": RankingConfig(enabled=False),
}


def _config(ranking: RankingConfig, serving: ServingConfig = SERVING) -> ModelConfig:
    return ModelConfig(
        als=ALSConfig(factors=16, iterations=8),
        hybrid=HybridConfig(tag_dim=8),
        search=SearchConfig(trials=0),
        ranking=ranking,
        serving=serving,
    )


@pytest.fixture(scope="module")
def precomputed_world():
    # 360 users (345 warm), 150 items: more warm users than precomputed_max_users
    return make_planted(users_per_cluster=120, items_per_cluster=50, events_per_user=12, seed=3)


def _lightgbm_ranker(seed: int) -> Ranker:
    """A LightGBM ranker whatever the learning chose: the stored answers must agree with
    the online ones through the tree model too."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, len(FEATURES)))
    data = lightgbm.Dataset(features, label=rng.integers(0, 2, 400), group=[20] * 20)
    params = {"objective": "lambdarank", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}
    return Ranker(np.zeros(len(FEATURES), np.float32), lightgbm.train(params, data, 20))


@pytest.fixture(scope="module", params=sorted(RANKING))
def precomputed_model(request, precomputed_world, tmp_path_factory) -> TrainedModel:
    """A trained model saved and loaded back memory-mapped, as serving has it."""
    config = _config(RANKING[request.param])
    model = train(precomputed_world.snapshot, config, version=request.param, evaluate=False)
    if model.ranking is not None:
        model.ranking.ranker = _lightgbm_ranker(1)
        model.precomputed = precompute(model, config.serving)
    directory = tmp_path_factory.mktemp("precomputed") / request.param
    model.save(directory)
    return TrainedModel.load(directory).warm()


def test_stored_answers_are_the_online_answers(precomputed_model):
    model = precomputed_model
    stored = model.precomputed
    assert stored is not None
    assert stored.user_slot.dtype == np.int32 and stored.item_users.dtype == np.int32
    assert stored.user_scores.dtype == np.float32
    warm = np.flatnonzero(np.diff(model.seen.indptr) > 0)
    slots = np.asarray(stored.user_slot)
    assert (slots >= 0).sum() == 300 < len(warm)  # the cap: the rest answer online
    compared = 0
    for row in warm.tolist():
        user = model.users.id(row)
        for n in (1, 10, 30):
            cached = precomputed.recommend(model, user, n)
            if slots[row] < 0:
                assert cached is None
                continue
            online = model.recommend(user, n, exclude_seen=True)
            assert cached is not None and online.strategy == "personal"
            assert cached == online  # ids, order, float32 scores, reasons
            compared += 1
    assert compared == 3 * 300
    for item in range(len(model.items)):
        item_id = model.items.id(item)
        for n in (1, 25, 60):
            cached_audience = precomputed.audience(model, item_id, n)
            assert cached_audience is not None
            assert cached_audience == model.audience(item_id, n, exclude_seen=True)


def test_stored_answers_are_not_used_where_they_cannot_be_the_online_one(precomputed_model):
    model = precomputed_model
    stored = model.precomputed
    assert stored is not None
    user = model.users.id(int(np.flatnonzero(np.asarray(stored.user_slot) >= 0)[0]))
    assert precomputed.recommend(model, user, 31) is None  # longer than what was stored
    if model.ranking is not None:  # stored lists ranked from another pool than n's
        ranking = model.config.ranking.model_copy(update={"candidates": 20})
        narrow = replace(model, config=model.config.model_copy(update={"ranking": ranking}))
        assert precomputed.recommend(narrow, user, 10) is None  # online: a pool of 20, stored: 30
        assert precomputed.recommend(narrow, user, 30) == precomputed.recommend(model, user, 30)
    assert precomputed.recommend(model, "nobody", 5) is None
    cold = model.users.id(int(np.flatnonzero(np.diff(model.seen.indptr) == 0)[0]))
    assert precomputed.recommend(model, cold, 5) is None  # beyond the cap, as warm ones are
    assert precomputed.audience(model, "i0", 61) is None
    assert precomputed.audience(model, "no-such-item", 5) is None


def test_unavailable_and_excluded_items_are_dropped_from_the_stored_list(precomputed_model):
    model = precomputed_model
    stored = model.precomputed
    assert stored is not None
    user = model.users.id(int(np.flatnonzero(np.asarray(stored.user_slot) >= 0)[5]))
    full = precomputed.recommend(model, user, 30)
    assert full is not None
    ids = [s.id for s in full.items]
    available = np.ones(len(model.items), bool)
    available[model.item_rows([ids[0], ids[3]])] = False  # e.g. deleted, expired
    cut = precomputed.recommend(model, user, 10, available=available, exclude_item_ids=[ids[5]])
    assert cut is not None
    assert cut.items == [s for s in full.items if s.id not in {ids[0], ids[3], ids[5]}][:10]
    assert precomputed.recommend(model, user, 29, available=available) is None  # 28 left
    audience = precomputed.audience(model, "i7", 60)
    assert audience is not None
    allowed = np.ones(len(model.users), bool)
    allowed[model.user_rows([audience[1].id])] = False  # erased, or no push consent
    excluded = [audience[4].id]
    answer = precomputed.audience(model, "i7", 20, allowed=allowed, exclude_user_ids=excluded)
    assert answer == [s for i, s in enumerate(audience) if i not in (1, 4)][:20]
    # where the user index is exact, that is the online answer with the same filter
    online = model.audience(
        "i7",
        20,
        allowed_user_rows=np.flatnonzero(allowed),
        exclude_user_ids=[audience[4].id],
        exclude_seen=True,
    )
    assert answer == online


def test_the_most_active_users_are_stored_first_then_cold_ones(precomputed_world):
    model = train(precomputed_world.snapshot, _config(RANKING["off"]), evaluate=False)
    rows = stored_users(model, 50)
    lengths = np.diff(np.asarray(model.interactions_by_user.indptr))
    warm = np.flatnonzero(np.diff(model.seen.indptr) > 0)
    cold = np.flatnonzero(np.diff(model.seen.indptr) == 0)
    assert len(rows) == 50 and np.all(np.diff(rows) > 0)
    assert lengths[rows].min() >= np.sort(lengths[warm])[::-1][49]
    assert model.metrics["precompute_seconds"] >= 0
    # room for every warm user and 4 more: the first 4 cold ones (all have declared tags)
    rows = stored_users(model, len(warm) + 4)
    assert np.array_equal(rows, np.union1d(warm, cold[:4]))
    assert np.array_equal(stored_users(model, 10**6), np.arange(len(model.users)))


@pytest.fixture(scope="module")
def cold_stored(precomputed_world, tmp_path_factory) -> TrainedModel:
    """Room for every user; one user without events lacks declared data too."""
    snapshot = precomputed_world.snapshot
    bare = int(np.setdiff1d(np.arange(len(snapshot.users)), snapshot.events.user)[0])
    users = list(snapshot.users)
    users[bare] = replace(users[bare], attributes={}, tags={})
    serving = ServingConfig(precomputed_items=30, precomputed_users=60, precomputed_max_users=10**6)
    model = train(
        Snapshot(users, snapshot.items, snapshot.events, snapshot.now),
        _config(RANKING["ease"], serving),
        evaluate=False,
    )
    directory = tmp_path_factory.mktemp("cold") / "model"
    model.save(directory)
    return TrainedModel.load(directory).warm()


def test_users_known_by_declared_tags_alone_get_their_cold_start_stored(
    cold_stored, precomputed_world
):
    model, snapshot_users = cold_stored, precomputed_world.snapshot.users
    assert model.precomputed is not None
    slots = np.asarray(model.precomputed.user_slot)
    cold = np.flatnonzero(np.diff(model.seen.indptr) == 0)
    assert len(cold) == 9 and (slots >= 0).sum() == len(model.users) - 1
    compared = 0
    for row in cold.tolist():
        user = model.users.id(row)
        online = model.recommend(user, 10, exclude_seen=True)
        if slots[row] < 0:  # the one without declared data: nothing to store
            assert online.strategy == "popular"
            assert precomputed.recommend(model, user, 10) is None
            continue
        for n in (1, 10, 30):
            online = model.recommend(user, n, exclude_seen=True)
            assert online.strategy == "cold_start" and len(online.items) == n
            assert precomputed.recommend(model, user, n) == online  # ids, scores, reasons
            compared += 1
        # declared data as the snapshot held it (a live state re-reading the record) keeps the
        # stored answer; changed since, it is the query, so online
        record = snapshot_users[row]
        same = {"attributes": record.attributes, "declared_tags": record.tags}
        assert precomputed.recommend(model, user, 10, **same) == precomputed.recommend(
            model, user, 10
        )
        changed = {"attributes": {**record.attributes, "occupation": "pilot"}}
        assert precomputed.recommend(model, user, 10, **changed) is None
    assert compared == 3 * 8
    # a warm user's answer does not read declared data: a change leaves the stored one
    warm = model.users.id(int(np.flatnonzero(np.diff(model.seen.indptr) > 0)[0]))
    stored = precomputed.recommend(model, warm, 10, attributes={"occupation": "pilot"})
    assert stored is not None and stored == model.recommend(warm, 10, exclude_seen=True)


def test_switched_off_and_older_versions_answer_online(precomputed_world, tmp_path):
    off = ServingConfig(precomputed_items=0, precomputed_users=0)
    model = train(precomputed_world.snapshot, _config(RANKING["ease"], off), evaluate=False)
    assert model.precomputed is None
    assert precomputed.recommend(model, "u0", 5) is None
    assert precomputed.audience(model, "i0", 5) is None
    # a version written before the stored answers existed: no such files, no such manifest
    # entries; it loads and serves online
    stored = train(precomputed_world.snapshot, _config(RANKING["ease"]), evaluate=False)
    stored.save(tmp_path / "old")
    manifest_path = tmp_path / "old" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] = [f for f in manifest["files"] if not f.startswith(PREFIX)]
    manifest["config"].pop("serving")
    manifest_path.write_text(json.dumps(manifest))
    for name in NAMES:
        (tmp_path / "old" / file_name(name)).unlink()
    old = TrainedModel.load(tmp_path / "old").warm()
    assert old.precomputed is None
    assert precomputed.recommend(old, "u0", 5) is None
    assert old.recommend("u0", 5) == stored.recommend("u0", 5)
    assert old.audience("i0", 5) == stored.audience("i0", 5)
