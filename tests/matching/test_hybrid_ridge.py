"""The hybrid's ridge maps, CF scales and cold rows without copies of the fitted rows
(BENCHMARKS.md, issue 16, sixth pass) against the formulas they replaced, kept here as
references: equal to the bit, not merely close."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as la
import scipy.sparse as sp

import matching.hybrid as hybrid
from matching.als import confidence_matrix, decay_reference
from matching.config import ModelConfig
from matching.csr_rows import l2_normalize_rows
from matching.synthetic import generate_catalogue
from matching.tagspace import build_tagspace


def _reference_ridge(
    features: sp.csr_matrix, targets: np.ndarray, lam: float, max_features: int
) -> hybrid.RidgeProjection:
    """fit_ridge before: float64 copies of the fitted rows, their columns and targets."""
    n_rows, n_factors = targets.shape
    features = sp.csr_matrix(features, dtype=np.float64)
    frequency = np.bincount(features.indices, minlength=features.shape[1])
    used = np.flatnonzero(frequency)
    if len(used) > max_features:
        used = np.sort(used[np.argsort(-frequency[used], kind="stable")[:max_features]])
    x = sp.csr_matrix(features[:, used])
    y = targets.astype(np.float64)
    x_mean = np.asarray(x.mean(axis=0)).ravel()
    y_mean = y.mean(axis=0)
    dense = len(used) <= hybrid._DENSE_GRAM_MAX
    products = hybrid._gram(x) if dense else (x.T @ x).toarray()
    gram = products - n_rows * np.outer(x_mean, x_mean)
    gram[np.diag_indices_from(gram)] += lam
    cross = np.asarray(x.T @ y) - n_rows * np.outer(x_mean, y_mean)
    weights = la.solve(gram, cross, assume_a="pos") if len(used) else np.zeros((0, n_factors))
    intercept = y_mean - x_mean @ weights
    return hybrid.RidgeProjection(
        used.astype(np.int64), weights.astype(np.float32), intercept.astype(np.float32)
    )


def _features(rng: np.random.Generator, rows: int, cols: int, canonical: bool) -> sp.csr_matrix:
    """Empty rows, unused columns, negative values; unsorted duplicates unless canonical."""
    lengths = rng.integers(0, 6, rows)
    lengths[rng.random(rows) < 0.2] = 0
    popular = rng.choice(cols, max(1, cols - 3), replace=False)  # some columns never used
    indices = np.concatenate([rng.choice(popular, n, replace=canonical is False) for n in lengths])
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    values = _wide(rng, len(indices))
    matrix = sp.csr_matrix((values, indices, indptr), shape=(rows, cols))
    if canonical:
        matrix.sort_indices()
    return matrix


def _wide(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """float32 values over many binades: their float64 sums round, so a changed order of
    addition shows (with values of one size, short sums of float32 products are exact)."""
    return (rng.standard_normal(shape) * np.exp(rng.uniform(-9, 9, shape))).astype(np.float32)


def _same(a: hybrid.RidgeProjection, b: hybrid.RidgeProjection) -> None:
    np.testing.assert_array_equal(a.columns, b.columns)
    assert a.weights.shape == b.weights.shape and a.weights.dtype == b.weights.dtype
    assert a.weights.tobytes() == b.weights.tobytes()
    assert a.intercept.tobytes() == b.intercept.tobytes()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_factors", [1, 3, 9])
@pytest.mark.parametrize("fitted", ["some", "all", "none", "one"])
@pytest.mark.parametrize("max_features", [1000, 5])
@pytest.mark.parametrize("canonical", [True, False])
def test_fit_ridge_on_a_row_mask_equals_the_copies_of_the_fitted_rows(
    seed, n_factors, fitted, max_features, canonical, monkeypatch
):
    monkeypatch.setattr(hybrid, "_TARGET_BLOCK_ROWS", 7)  # many blocks, the last partial
    monkeypatch.setattr(hybrid, "_GRAM_BLOCK_ENTRIES", 64)
    rng = np.random.default_rng(seed)
    features = _features(rng, 300, 12, canonical)
    targets = _wide(rng, 300, n_factors)
    rows = {
        "some": rng.random(300) < 0.7,
        "all": np.ones(300, bool),
        "none": np.zeros(300, bool),
        "one": np.arange(300) == 13,
    }[fitted]
    result = hybrid.fit_ridge(features, targets, rows, 0.5, max_features)
    if rows.any():
        expected = _reference_ridge(features[rows], targets[rows], 0.5, max_features)
        _same(result, expected)
    else:
        assert result.weights.shape == (0, n_factors) and not result.intercept.any()
    assert max_features >= len(result.columns)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_features", [1000, 5])
@pytest.mark.parametrize("canonical", [True, False])
def test_the_float64_sums_are_those_of_the_copies_to_the_bit(
    seed, max_features, canonical, monkeypatch
):
    """The ridge's outputs are float32, which hides most changes of order in its float64
    sums: these are compared themselves."""
    monkeypatch.setattr(hybrid, "_TARGET_BLOCK_ROWS", 7)
    rng = np.random.default_rng(seed)
    features = _features(rng, 300, 12, canonical)
    targets = _wide(rng, 300, 9)
    rows = rng.random(300) < 0.7
    x_fit, x_all, used = hybrid._fitted_columns(features, rows, max_features)
    copy = sp.csr_matrix(sp.csr_matrix(features[rows], dtype=np.float64)[:, used])
    for part in (x_fit, x_all[rows]):
        np.testing.assert_array_equal(part.indptr, copy.indptr)
        np.testing.assert_array_equal(part.indices, copy.indices)
        assert part.data.tobytes() == copy.data.tobytes()
    assert x_all[~rows].nnz == 0
    y = targets[rows].astype(np.float64)
    xy, y_sum = hybrid._cross_products(x_all, targets, rows)
    assert xy.tobytes() == np.asarray(copy.T @ y).tobytes()
    assert y_sum.tobytes() == y.sum(axis=0).tobytes()
    assert (y_sum / rows.sum()).tobytes() == y.mean(axis=0).tobytes()


def test_fit_ridge_above_the_dense_gram_size_equals_the_reference(monkeypatch):
    monkeypatch.setattr(hybrid, "_DENSE_GRAM_MAX", 4)  # the sparse Gram product
    rng = np.random.default_rng(7)
    features = _features(rng, 300, 10, True)
    targets = _wide(rng, 300, 4)
    rows = rng.random(300) < 0.6
    _same(
        hybrid.fit_ridge(features, targets, rows, 1.0, 100),
        _reference_ridge(features[rows], targets[rows], 1.0, 100),
    )


@pytest.mark.parametrize("fitted", ["some", "none"])
def test_rms_norm_of_masked_rows_equals_the_copy(fitted, monkeypatch):
    monkeypatch.setattr(hybrid, "_TARGET_BLOCK_ROWS", 7)
    rng = np.random.default_rng(8)
    vectors = _wide(rng, 300, 6)
    rows = rng.random(300) < 0.5 if fitted == "some" else np.zeros(300, bool)
    picked = vectors[rows].astype(np.float64)
    expected = float(np.sqrt(np.mean(np.sum(picked**2, axis=1)))) if rows.any() else 1.0
    assert hybrid._rms_norm(vectors, rows) == expected


def test_build_hybrid_equals_the_joint_vectors_of_the_replaced_copies():
    """Cold rows' CF parts written over the joint vectors of the factors as they are: the
    joint vectors of a copy of the factors with the cold rows replaced, to the bit."""
    config = ModelConfig()
    snapshot = generate_catalogue(400, 120, 1500, seed=2).to_snapshot()
    tagspace = build_tagspace(snapshot, config.tags, config.events)
    reference = decay_reference(snapshot.events, snapshot.now)
    interactions = confidence_matrix(
        snapshot.events, snapshot.n_users, snapshot.n_items, config.events, reference
    )
    rng = np.random.default_rng(3)
    user_factors = rng.standard_normal((snapshot.n_users, 8)).astype(np.float32)
    item_factors = rng.standard_normal((snapshot.n_items, 8)).astype(np.float32)
    space, users, items = hybrid.build_hybrid(
        user_factors, item_factors, interactions, tagspace, config.hybrid
    )
    warm_users = np.diff(interactions.indptr) > 0
    warm_items = np.bincount(interactions.indices, minlength=snapshot.n_items) > 0
    assert not warm_users.all() and not warm_items.all()  # both kinds of cold rows
    declared = l2_normalize_rows(tagspace.user_declared)
    item_tags = sp.csr_matrix(tagspace.item_tags)
    assert space.user_cf_scale == hybrid._rms_norm(user_factors, warm_users)
    _same(
        space.user_projection,
        _reference_ridge(
            declared[warm_users], user_factors[warm_users], config.hybrid.ridge_lambda, 8192
        ),
    )
    user_cf, item_cf = user_factors.copy(), item_factors.copy()
    user_cf[~warm_users] = space.user_projection.apply(declared[~warm_users])
    item_cf[~warm_items] = space.item_projection.apply(item_tags[~warm_items])
    expected_users = space.joint(user_cf, tagspace.user_matrix(), "user")
    expected_items = space.joint(item_cf, item_tags, "item")
    assert users.tobytes() == expected_users.tobytes()
    assert items.tobytes() == expected_items.tobytes()
