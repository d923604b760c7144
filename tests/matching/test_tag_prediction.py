"""The attribute classifier's pieces: labels, seeded training sample, per-row features."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from matching.config import EventConfig, TagConfig
from matching.csr_rows import l2_normalize_rows
from matching.synthetic import generate_catalogue
from matching.tag_prediction import (
    PredictionFeatures,
    namespace_columns,
    row_argmax,
    training_sample,
)
from matching.tagspace import build_tagspace, interaction_weights


def test_row_argmax_largest_stored_value_lower_column_on_ties_minus_one_when_empty():
    dense = np.array(
        [
            [0.0, 2.0, 0.5, 2.0],  # tie between columns 1 and 3: the lower one
            [0.0, 0.0, 0.0, 0.0],  # nothing stored
            [0.3, 0.0, 0.0, 0.9],
            [1.0, 0.0, 0.0, 0.0],
        ],
        np.float32,
    )
    assert row_argmax(sp.csr_matrix(dense)).tolist() == [1, -1, 3, 0]


def test_row_argmax_agrees_with_dense_argmax_on_random_positive_rows():
    rng = np.random.default_rng(3)
    m = sp.random(300, 40, density=0.1, format="csr", random_state=4, dtype=np.float64)
    m.data = rng.integers(1, 4, m.nnz).astype(np.float64)  # small integers: many ties
    filled = np.diff(m.indptr) > 0
    expected = np.where(filled, m.toarray().argmax(axis=1), -1)
    assert np.array_equal(row_argmax(m), expected)


def test_training_sample_is_seeded_sorted_and_a_subset():
    rows = np.arange(10, 1010, 3)
    first = training_sample(rows, 50, np.random.default_rng(0))
    again = training_sample(rows, 50, np.random.default_rng(0))
    other = training_sample(rows, 50, np.random.default_rng(1))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(first) == 50 and len(np.unique(first)) == 50
    assert np.all(np.diff(first) > 0) and np.isin(first, rows).all()
    assert np.array_equal(training_sample(rows[:20], 50, np.random.default_rng(0)), rows[:20])


def _inputs(config: TagConfig):
    snap = generate_catalogue(600, 80, 6000, seed=2, clusters=3).to_snapshot()
    space = build_tagspace(
        snap, config.model_copy(update={"predict_namespaces": ()}), EventConfig()
    )
    interactions = interaction_weights(snap, config, EventConfig())
    return snap, space, interactions


def test_features_of_some_rows_are_those_rows_of_all_features():
    config = TagConfig()
    _, space, interactions = _inputs(config)
    declared = space.user_declared
    ns_of = namespace_columns(space.tags, declared.shape[1])
    other = np.flatnonzero(~np.isin(ns_of, config.predict_namespaces))
    everything = sp.hstack(
        [space.user_behavioural, l2_normalize_rows(interactions), declared[:, other]], format="csr"
    )
    features = PredictionFeatures(declared, space.user_behavioural, interactions, ns_of, config)
    rows = np.array([0, 5, 17, 300, 599])
    assert abs(features.rows(rows) - everything[rows]).max() < 1e-7
    assert np.array_equal(features.has_any, everything.getnnz(axis=1) > 0)


def test_a_sampled_fit_is_deterministic_and_the_sample_size_matters():
    snap, _, _ = _inputs(TagConfig())
    small = TagConfig(predict_max_train=40, predict_min_confidence=0.0)
    first = build_tagspace(snap, small, EventConfig()).user_predicted
    again = build_tagspace(snap, small, EventConfig()).user_predicted
    assert first.nnz > 0
    assert (first != again).nnz == 0  # same snapshot, same sample, same predictions
    full = build_tagspace(
        snap, small.model_copy(update={"predict_max_train": 10_000}), EventConfig()
    ).user_predicted
    assert np.array_equal(first.indptr, full.indptr)  # the same users get a prediction
    assert abs(first - full).max() > 1e-3  # from a different fit


def test_fitting_on_the_used_columns_only_predicts_as_a_fit_on_all_columns():
    from sklearn.linear_model import LogisticRegression

    from matching.tag_prediction import predict_tags

    config = TagConfig(predict_min_confidence=0.0, predict_namespaces=("gender",))
    _, space, interactions = _inputs(config)
    declared = space.user_declared
    ns_of = namespace_columns(space.tags, declared.shape[1])
    features = PredictionFeatures(declared, space.user_behavioural, interactions, ns_of, config)
    ns_cols = np.flatnonzero(ns_of == "gender")
    best = row_argmax(declared[:, ns_cols])
    train = np.flatnonzero((best >= 0) & features.has_any)
    target = np.flatnonzero((best < 0) & features.has_any)
    x_train = features.rows(train)
    assert len(np.unique(x_train.indices)) < x_train.shape[1]  # some columns do get dropped
    model = LogisticRegression(C=config.predict_c, max_iter=200)  # as predict_tags fits it
    model.fit(x_train, ns_cols[best[train]])
    expected = model.predict_proba(features.rows(target)).max(axis=1)
    predicted = predict_tags(declared, space.user_behavioural, interactions, space.tags, config)
    assert np.array_equal(np.flatnonzero(predicted.getnnz(axis=1)), target)
    assert np.allclose(
        predicted[target].max(axis=1).toarray().ravel(), expected, atol=1e-3
    )  # lbfgs's rounding apart
