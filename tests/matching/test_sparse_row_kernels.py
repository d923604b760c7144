"""The vectorised row kernels of the tag space and the hybrid (l2_normalize_rows,
top_k_per_row, behavioural_tags, the hybrid's dense-block Gram) against straightforward
per-row references on random inputs: equal to the bit, not merely close (BENCHMARKS.md,
issue 16, fifth pass: the speed-ups claim exactly the same output). The ridge maps:
test_hybrid_ridge.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.csr_rows import l2_normalize_rows, top_k_per_row
from matching.hybrid import _gram
from matching.tagspace import behavioural_tags


def _random_csr(rng: np.random.Generator, rows: int, cols: int, dtype: type) -> sp.csr_matrix:
    """Rows from empty to full, values with exact ties, both zeros and negative values."""
    lengths = rng.integers(0, cols + 1, rows)
    lengths[rng.random(rows) < 0.2] = 0
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    indices = np.concatenate([np.sort(rng.choice(cols, n, replace=False)) for n in lengths])
    values = rng.choice([0.25, 0.5, 1.0, -0.5, 0.0, -0.0], len(indices))
    noisy = rng.random(len(indices)) < 0.7
    values[noisy] = rng.standard_normal(int(noisy.sum())) * rng.choice([1e-3, 1.0, 1e3])
    return sp.csr_matrix((values.astype(dtype), indices, indptr), shape=(rows, cols))


def _l2_reference(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row's float64 sum of squares in stored order, as float32, divided into it."""
    m = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    for row in range(m.shape[0]):
        lo, hi = m.indptr[row], m.indptr[row + 1]
        total = 0.0
        for value in m.data[lo:hi].astype(np.float64):
            total += value * value
        m.data[lo:hi] /= np.float32(max(np.sqrt(total), 1e-12))
    return m


def _top_k_reference(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Per row: duplicates summed, the k largest by (value descending, column ascending),
    kept in column order."""
    m = sp.csr_matrix(matrix, copy=True)
    m.sum_duplicates()
    rows, cols, vals = [], [], []
    for row in range(m.shape[0]):
        lo, hi = m.indptr[row], m.indptr[row + 1]
        entries = sorted(zip(m.indices[lo:hi].tolist(), m.data[lo:hi], strict=True))
        best = sorted(entries, key=lambda cv: (-cv[1], cv[0]))[:k]
        for col, value in sorted(best, key=lambda cv: cv[0]):
            rows.append(row)
            cols.append(col)
            vals.append(value)
    out = np.array(vals, dtype=m.dtype)
    return sp.csr_matrix((out, (rows, cols)), shape=m.shape)


def _same(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    # bit patterns: equal values and equal signs of zero
    np.testing.assert_array_equal(
        a.data.view(np.uint32 if a.dtype == np.float32 else np.uint64),
        b.data.view(np.uint32 if b.dtype == np.float32 else np.uint64),
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_rows", [1 << 15, 7])
def test_l2_normalize_rows_equals_a_per_row_reference_to_the_bit(
    seed, dtype, block_rows, monkeypatch
):
    import matching.csr_rows as csr_rows

    monkeypatch.setattr(csr_rows, "_NORMALIZE_BLOCK_ROWS", block_rows)
    matrix = _random_csr(np.random.default_rng(seed), 60, 40, dtype)
    before = matrix.copy()
    _same(l2_normalize_rows(matrix), _l2_reference(matrix))
    _same(matrix, before)  # a copy by default
    expected = _l2_reference(matrix)
    result = l2_normalize_rows(matrix, in_place=True)
    _same(result, expected)
    if dtype == np.float32:  # scaled in place: the caller's own temporary, no copy
        assert np.shares_memory(result.data, matrix.data)
        _same(matrix, expected)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 12])
def test_top_k_per_row_equals_a_per_row_sort_with_ties_zeros_and_negatives(seed, dtype, k):
    rng = np.random.default_rng(seed)
    matrix = _random_csr(rng, 80, 30, dtype)
    # unsorted columns and duplicate entries, as a sparse product or COO build can leave them
    coo = matrix.tocoo()
    extra = rng.integers(0, coo.nnz, coo.nnz // 4) if coo.nnz else np.zeros(0, np.int64)
    order = rng.permutation(coo.nnz + len(extra))
    messy = sp.csr_matrix(
        (
            np.concatenate((coo.data, coo.data[extra]))[order],
            (
                np.concatenate((coo.row, coo.row[extra]))[order],
                np.concatenate((coo.col, coo.col[extra]))[order],
            ),
        ),
        shape=matrix.shape,
    )
    _same(top_k_per_row(messy, k), _top_k_reference(messy, k))


@pytest.mark.parametrize("seed", range(3))
def test_behavioural_tags_equal_the_whole_matrix_reference(seed, monkeypatch):
    """Blocks normalised one by one give the rows of normalising the stacked top-k."""
    import matching.tagspace as tagspace

    monkeypatch.setattr(tagspace, "_BLOCK_USERS", 7)
    rng = np.random.default_rng(seed)
    interactions = abs(_random_csr(rng, 50, 20, np.float32))
    item_tags = abs(_random_csr(rng, 20, 35, np.float32))
    expected = _l2_reference(_top_k_reference(interactions @ item_tags, 5))
    _same(behavioural_tags(interactions, item_tags, 5), expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("canonical", [True, False])
def test_gram_equals_widening_each_dense_block(seed, canonical, monkeypatch):
    import matching.hybrid as hybrid

    monkeypatch.setattr(hybrid, "_GRAM_BLOCK_ENTRIES", 64)
    rng = np.random.default_rng(seed)
    matrix = _random_csr(rng, 45, 16, np.float32)
    if not canonical:  # duplicates: the dense float32 block sums them in float32
        matrix = sp.csr_matrix(
            (np.tile(matrix.data, 2), np.tile(matrix.indices, 2), matrix.indptr * 2),
            shape=matrix.shape,
        )
    step = 64 // 16
    expected = np.zeros((16, 16))
    for start in range(0, 45, step):
        block = matrix[start : start + step].toarray().astype(np.float64)
        expected += block.T @ block
    np.testing.assert_array_equal(_gram(matrix), expected)


@pytest.mark.parametrize("side", ["user", "item"])
def test_joint_vectors_in_row_blocks_equal_one_block(side, monkeypatch):
    import matching.hybrid as hybrid

    rng = np.random.default_rng(5)
    tags = abs(_random_csr(rng, 53, 12, np.float32))
    space = hybrid.HybridSpace(
        tag_components=rng.standard_normal((12, 4)).astype(np.float32),
        item_projection=None,  # type: ignore[arg-type]  # not used by joint
        user_projection=None,  # type: ignore[arg-type]
        user_cf_scale=1.7,
        item_cf_scale=0.3,
        tag_share=0.35,
        n_factors=6,
    )
    cf = rng.standard_normal((53, 6)).astype(np.float32)
    monkeypatch.setattr(hybrid, "_JOINT_BLOCK_ROWS", 1 << 30)
    whole = space.joint(cf, tags, side)
    monkeypatch.setattr(hybrid, "_JOINT_BLOCK_ROWS", 5)
    blocks = space.joint(cf, tags, side)
    np.testing.assert_array_equal(blocks.view(np.uint32), whole.view(np.uint32))
    # and the formula itself, parts computed in float64 and cast once
    scale = 1.7 if side == "user" else 0.3
    embedded = hybrid.unit_rows(np.asarray(tags @ space.tag_components, dtype=np.float32))
    expected = np.hstack(
        [cf.astype(np.float64) * np.sqrt(0.65) / scale, embedded * np.sqrt(0.35)]
    ).astype(np.float32)
    np.testing.assert_array_equal(whole, expected)
