"""Confidence arithmetic, ALS cold rows, and the evaluation metrics on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.als import confidence_matrix, decay_reference, fit_als, weighted_confidence
from matching.base import PAD_ID
from matching.config import ALSConfig, EvalConfig, EventConfig
from matching.data import SECONDS_PER_DAY as DAY
from matching.data import EventLog
from matching.evaluate import (
    audience_metrics,
    cold_item_split,
    per_user_time_split,
    random_split,
    ranking_metrics,
    sample_rows,
    time_holdout,
)


def test_confidence_sums_type_weight_times_decay():
    now = 1000 * DAY
    events = EventLog.from_columns(
        user=[0, 0, 1, 1],
        item=[2, 2, 0, 1],
        types=["click", "view", "purchase", "mystery"],
        ts=[now, now - 90 * DAY, now - 180 * DAY, now + DAY],
    )
    config = EventConfig(half_life_days=90.0, unknown_type_weight=0.5)
    matrix = confidence_matrix(events, 3, 3, config)
    assert matrix.shape == (3, 3) and matrix.dtype == np.float32
    # ages count back from the newest event (now + 1 day), never from the wall clock
    assert matrix[0, 2] == pytest.approx(2.0 * 2 ** (-1 / 90) + 1.0 * 2 ** (-91 / 90))
    assert matrix[1, 0] == pytest.approx(5.0 * 2 ** (-181 / 90))
    assert matrix[1, 1] == pytest.approx(0.5)  # unknown type, the newest event: no decay
    assert matrix[2].nnz == 0


def test_decay_ignores_the_wall_clock_and_can_be_switched_off():
    """Data whose newest event is years old keeps its weights: the same matrix as the same
    events shifted to today."""
    old = EventLog.from_columns(
        user=[0, 0, 1],
        item=[0, 1, 1],
        types=["click", "view", "like"],
        ts=[0.0, 30 * DAY, 60 * DAY],
    )
    shifted = EventLog.from_columns(
        user=[0, 0, 1],
        item=[0, 1, 1],
        types=["click", "view", "like"],
        ts=[5000 * DAY, 5030 * DAY, 5060 * DAY],
    )
    config = EventConfig(half_life_days=30.0)
    a = confidence_matrix(old, 2, 2, config).toarray()
    assert np.allclose(a, confidence_matrix(shifted, 2, 2, config).toarray())
    assert a[1, 1] == pytest.approx(3.0) and a[0, 0] == pytest.approx(2.0 / 4)
    off = confidence_matrix(old, 2, 2, EventConfig(half_life_days=None)).toarray()
    assert np.allclose(off, [[2.0, 1.0], [0.0, 3.0]])


@pytest.mark.parametrize("weighting", ["linear", "log", "bm25"])
def test_confidence_weightings_keep_structure_and_order(weighting):
    dense = np.zeros((3, 8), np.float32)  # BM25's idf needs users that touched few of the items
    dense[:, :3] = [[1.0, 4.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 8.0]]
    scaled = weighted_confidence(
        sp.csr_matrix(dense), ALSConfig(alpha=2.0, weighting=weighting)
    ).toarray()
    assert np.array_equal(scaled > 0, dense > 0) and (scaled[dense > 0] >= 1.0).all()
    if weighting == "linear":
        assert np.allclose(scaled[dense > 0], 1 + 2 * dense[dense > 0])
    if weighting == "log":
        assert np.allclose(scaled[dense > 0], 1 + 2 * np.log1p(dense[dense > 0]))
    assert scaled[2, 2] > scaled[2, 1]  # more weight, more confidence, whatever the curve


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


def test_per_user_time_split_holds_out_each_users_newest_events():
    events = EventLog.from_columns(
        user=[0, 0, 0, 0, 0, 1, 1, 2],
        item=[0, 1, 2, 3, 4, 0, 1, 2],
        types=["view"] * 8,
        ts=[5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 8.0, 1.0],
    )
    train, test = per_user_time_split(events, 0.4)
    assert test.tolist() == [True, False, True, False, False, True, False, False]
    assert (train == ~test).all()  # user 2's only event stays in training


def test_a_future_dated_event_does_not_decay_the_others():
    events = EventLog.from_columns(
        user=[0, 0], item=[0, 1], types=["click", "click"], ts=[100 * DAY, 900 * DAY]
    )
    reference = decay_reference(events, now=100 * DAY)  # the second event is dated ahead
    assert reference == 100 * DAY
    matrix = confidence_matrix(events, 1, 2, EventConfig(half_life_days=10.0), reference)
    assert np.allclose(matrix.toarray(), [[2.0, 2.0]])


def test_sample_rows_is_a_seeded_sorted_subset_or_everything():
    rows = np.arange(0, 3000, 3)
    assert np.array_equal(sample_rows(rows, 0, 0), rows)  # 0: no limit
    assert np.array_equal(sample_rows(rows, 1000, 0), rows)  # not fewer than there are
    first, again = sample_rows(rows, 100, 7), sample_rows(rows, 100, 7)
    assert np.array_equal(first, again) and len(first) == 100
    assert np.all(np.diff(first) > 0) and np.isin(first, rows).all()
    assert not np.array_equal(first, sample_rows(rows, 100, 8))
