"""One contract, every model: the shapes, order, padding and filters the engine relies on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.als import confidence_matrix
from matching.base import PAD_ID, Recommender, TrainingData
from matching.config import ALSConfig, EventConfig, HybridConfig
from matching.recommenders import Hybrid, MostPopular, RawALS, RawBPR, TagOnly

MODELS = {
    "most_popular": MostPopular,
    "raw_als": RawALS,
    "raw_bpr": RawBPR,
    "tag_only": lambda: TagOnly(HybridConfig(tag_dim=8)),
    "hybrid": lambda: Hybrid(ALSConfig(factors=8, iterations=5), HybridConfig(tag_dim=8)),
}


@pytest.fixture(scope="module")
def training_data(engine_planted):
    snap = engine_planted.snapshot
    confidence = confidence_matrix(snap.events, snap.n_users, snap.n_items, EventConfig())
    return TrainingData(confidence, engine_planted.tagspace)


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request, training_data) -> Recommender:
    return MODELS[request.param]().fit(training_data)


def _check_sorted_and_padded(ids: np.ndarray, scores: np.ndarray) -> None:
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    pad = ids == PAD_ID
    finite = np.where(pad, np.float32(-3e38), scores)
    assert np.all(np.diff(finite, axis=1) <= 0)
    assert np.all(np.isneginf(scores[pad]))
    assert np.all(np.isfinite(scores[~pad]))
    # padding only at the end of a row
    assert np.all(np.diff(pad.astype(int), axis=1) >= 0)


def test_recommend_shapes_and_order(model, training_data):
    users = np.arange(10)
    ids, scores = model.recommend(users, 5)
    assert ids.shape == scores.shape == (10, 5)
    _check_sorted_and_padded(ids, scores)
    assert not (ids == PAD_ID).any()
    assert all(len(set(row)) == 5 for row in ids.tolist())


def test_recommend_honours_exclusions(model, training_data):
    users = np.arange(12)
    exclude = training_data.interactions[users]
    ids, scores = model.recommend(users, 8, exclude=exclude)
    _check_sorted_and_padded(ids, scores)
    for i, row in enumerate(ids):
        seen = set(exclude[i].indices.tolist())
        assert seen and not seen & set(row.tolist())


def test_recommend_honours_allowed_items(model, training_data):
    allowed = np.array([3, 17, 25, 40, 41])
    ids, _ = model.recommend(np.arange(6), 3, allowed_items=allowed)
    assert set(ids.ravel().tolist()) <= set(allowed.tolist())
    assert not (ids == PAD_ID).any()


def test_more_asked_than_candidates_pads(model, training_data):
    allowed = np.array([1, 2, 3])
    exclude = sp.csr_matrix(([1.0], ([0], [2])), shape=(2, training_data.n_items))
    ids, scores = model.recommend(np.array([0, 1]), 5, exclude=exclude, allowed_items=allowed)
    _check_sorted_and_padded(ids, scores)
    assert sorted(ids[0, :2].tolist()) == [1, 3] and (ids[0, 2:] == PAD_ID).all()
    assert sorted(ids[1, :3].tolist()) == [1, 2, 3] and (ids[1, 3:] == PAD_ID).all()
    ids, _ = model.recommend(np.array([0]), training_data.n_items + 4)
    assert (ids[0, training_data.n_items :] == PAD_ID).all()
    assert sorted(ids[0, : training_data.n_items].tolist()) == list(range(training_data.n_items))


def test_unknown_rows_pad_and_cold_rows_answer(model, training_data, engine_planted):
    ids, scores = model.recommend(np.array([-1, training_data.n_users + 5]), 4)
    assert (ids == PAD_ID).all() and np.isneginf(scores).all()
    cold = engine_planted.cold_users[:2]
    ids, scores = model.recommend(cold, 4)
    assert not (ids == PAD_ID).any()
    _check_sorted_and_padded(ids, scores)
    ids, _ = model.similar_items(np.array([-1]), 3)
    assert (ids == PAD_ID).all()


def test_similar_items_and_users(model, training_data):
    ids, scores = model.similar_items(np.array([0, 5]), 4)
    assert ids.shape == (2, 4)
    _check_sorted_and_padded(ids, scores)
    assert 0 not in ids[0] and 5 not in ids[1]
    ids, scores = model.similar_users(np.array([2]), training_data.n_users + 1)
    assert 2 not in ids[0]
    assert (ids[0, training_data.n_users - 1 :] == PAD_ID).all()
    _check_sorted_and_padded(ids, scores)
