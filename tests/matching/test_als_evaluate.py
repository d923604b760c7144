"""Confidence arithmetic, ALS cold rows, and the evaluation metrics on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.als import confidence_matrix, fit_als
from matching.base import PAD_ID
from matching.config import ALSConfig, EvalConfig, EventConfig
from matching.data import EventLog
from matching.evaluate import (
    audience_metrics,
    cold_item_split,
    random_split,
    ranking_metrics,
    time_holdout,
)

DAY = 86_400.0


def test_confidence_sums_type_weight_times_decay():
    now = 1000 * DAY
    events = EventLog.from_columns(
        user=[0, 0, 1, 1],
        item=[2, 2, 0, 1],
        types=["click", "view", "purchase", "mystery"],
        ts=[now, now - 90 * DAY, now - 180 * DAY, now + DAY],
    )
    config = EventConfig(half_life_days=90.0, unknown_type_weight=0.5)
    matrix = confidence_matrix(events, 3, 3, config, now)
    assert matrix.shape == (3, 3) and matrix.dtype == np.float32
    assert matrix[0, 2] == pytest.approx(2.0 + 1.0 * 0.5)  # click now + view one half-life ago
    assert matrix[1, 0] == pytest.approx(5.0 * 0.25)  # purchase two half-lives ago
    assert matrix[1, 1] == pytest.approx(0.5)  # unknown type; a future event counts as new
    assert matrix[2].nnz == 0


def test_fit_als_leaves_rows_without_events_at_zero():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 20)) < 0.3).astype(np.float32)
    dense[5] = 0.0
    dense[:, 7] = 0.0
    users, items = fit_als(sp.csr_matrix(dense), ALSConfig(factors=4, iterations=3))
    assert users.shape == (30, 4) and items.shape == (20, 4)
    assert users.dtype == items.dtype == np.float32
    assert not users[5].any() and not items[7].any()
    assert np.abs(users[0]).sum() > 0
    again, _ = fit_als(sp.csr_matrix(dense), ALSConfig(factors=4, iterations=3))
    assert np.allclose(users, again)


def test_ranking_metrics_by_hand():
    truth = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]))
    top = np.array([[2, 1], [3, PAD_ID], [0, 1]])
    metrics = ranking_metrics(top, truth, n_items=5)
    # user 0: hit at rank 1 of 2 truths; user 1: no hit; user 2 has no truth: not counted
    assert metrics["users"] == 2
    assert metrics["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert metrics["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    ideal = 1 + 1 / np.log2(3)
    assert metrics["ndcg@2"] == pytest.approx((1 / ideal + 0) / 2)
    assert metrics["coverage"] == pytest.approx(3 / 5)  # items 1, 2, 3


def test_time_holdout_last_days_capped_and_warm_users_only():
    ts = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=float) * DAY
    users = [0, 1, 0, 1, 0, 1, 0, 1, 0, 2]  # user 2 only appears in the holdout
    events = EventLog.from_columns(users, [0] * 10, ["view"] * 10, ts)
    train, test = time_holdout(events, EvalConfig(holdout_days=2.5, holdout_max_fraction=0.5))
    assert train.tolist() == [True] * 7 + [False] * 3
    assert test.tolist() == [False] * 7 + [True, True, False]
    train, test = time_holdout(events, EvalConfig(holdout_days=8, holdout_max_fraction=0.2))
    assert (~train).sum() == 2 and test.sum() == 1  # capped at 20%; user 2 dropped


def test_splits_are_seeded_partitions():
    train, test = random_split(1000, 0.2, seed=3)
    assert test.sum() == 200 and not (train & test).any() and (train | test).all()
    assert np.array_equal(test, random_split(1000, 0.2, seed=3)[1])
    events = EventLog.from_columns([0, 1, 2, 3], [0, 1, 1, 2], ["view"] * 4, [0.0] * 4)
    keep, cold = cold_item_split(events, 0.34, seed=0)
    assert len(cold) == 1 and not np.isin(events.item[keep], cold).any()
    assert np.isin(events.item[~keep], cold).all()


def test_audience_metrics_perfect_reversed_and_ties():
    truth = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 1]]))
    perfect = np.array([[4.0, 3.0, 2.0, 1.0], [0.0, 0.0, 0.0, 9.0]])
    result = audience_metrics(lambda rows: perfect[rows], np.array([0, 1]), truth, k=1)
    assert result["auc"] == pytest.approx(1.0)
    assert result["recall@1"] == pytest.approx((0.5 + 1.0) / 2)
    result = audience_metrics(lambda rows: -perfect[rows], np.array([0, 1]), truth, k=4)
    assert result["auc"] == pytest.approx(0.0) and result["recall@4"] == pytest.approx(1.0)
    flat = np.zeros((2, 4))
    assert audience_metrics(lambda rows: flat[rows], np.array([0, 1]), truth, 2)["auc"] == 0.5
