"""The one-query kernels of an online recommend (issue 16) give what the batched numpy and
scipy steps they replace gave, to the bit and in the same order: answers stored at training
(matching/precomputed.py) must equal the online ones, and old answers must not move."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from matching.base import top_n
from matching.csr_rows import l2_normalize_rows
from matching.hybrid import HybridSpace, RidgeProjection
from matching.ranking import Ranker, RankingStage, merge_candidates
from matching.sparse_rows import SparseRows, member, row_product, unit_row


def _scipy_sums(history: list[np.ndarray], neighbours: sp.csr_matrix) -> sp.csr_matrix:
    """The product the item-kNN scores were: the 0/1 history matrix (each valid item once)
    times the neighbour matrix, in scipy's entry order."""
    n_items = neighbours.shape[0]
    valid = [np.unique(h[(h >= 0) & (h < n_items)]) for h in history]
    indptr = np.concatenate([[0], np.cumsum([len(v) for v in valid])])
    ones = sp.csr_matrix(
        (np.ones(indptr[-1], np.float32), np.concatenate(valid).astype(np.int64), indptr),
        shape=(len(history), n_items),
    )
    return sp.csr_matrix(ones @ neighbours)


def _stage(neighbours: sp.csr_matrix) -> RankingStage:
    zeros = np.zeros(neighbours.shape[0], np.float32)
    return RankingStage(
        None, neighbours, None, zeros, zeros, zeros, Ranker(np.zeros(12, np.float32))
    )


def test_item_knn_sums_are_scipys_product_to_the_bit_and_in_its_order():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(5, 200))
        neighbours = sp.random(n, n, density=0.1, format="csr", dtype=np.float32, rng=trial)
        # quarter steps with negatives: ties, and sums that cancel to exactly zero
        steps = np.round(neighbours.data * 4) - rng.integers(0, 2, neighbours.nnz)
        neighbours.data = (steps / 4).astype(np.float32)
        history = [rng.integers(-2, n + 2, int(rng.integers(0, 12))) for _ in range(3)]
        expected = _scipy_sums(history, neighbours)
        got = _stage(neighbours).item_item_scores(history)
        assert isinstance(got, SparseRows)
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data.view(np.uint32), expected.data.view(np.uint32))


def test_item_knn_features_read_the_summed_scores():
    rng = np.random.default_rng(1)
    n = 60
    neighbours = sp.random(n, n, density=0.2, format="csr", dtype=np.float32, rng=1)
    stage = _stage(neighbours)
    history = [rng.integers(0, n, 4), np.zeros(0, np.int64)]
    candidates = rng.integers(-1, n, (2, 25))
    vectors = rng.normal(size=(n, 4)).astype(np.float32)
    scores = stage.item_item_scores(history)
    features = stage.features(np.ones((2, 4), np.float32), vectors, 2, scores, history, candidates)
    expected = np.asarray(_scipy_sums(history, neighbours).toarray())[
        np.arange(2)[:, None], np.maximum(candidates, 0)
    ]
    column = features[..., 4]  # item_item, standardised within the query
    valid = candidates >= 0
    for row in range(2):
        kept = expected[row][valid[row]]
        std = kept.std()
        if std > 1e-6:
            want = (kept - kept.mean()) / std
            assert np.allclose(column[row][valid[row]], want, atol=1e-5)


def test_top_n_of_one_row_is_the_batched_answer():
    rng = np.random.default_rng(2)
    for trial in range(5000):
        width, n = int(rng.integers(0, 40)), int(rng.integers(0, 50))
        row = (rng.integers(-3, 4, width) / 2).astype(np.float32 if trial % 2 else np.float64)
        row[rng.random(width) < 0.2] = -np.inf
        one = top_n(row[None, :], n)
        batched = top_n(np.vstack([row, row[::-1], row]), n)
        assert np.array_equal(one[0][0], batched[0][0])
        assert np.array_equal(one[1][0].view(np.uint32), batched[1][0].view(np.uint32))
        assert np.array_equal(batched[0][0], batched[0][2])


def test_merge_candidates_appends_the_new_rows_in_order():
    first = np.array([[3, 1, 7, -1], [2, -1, -1, -1]])
    second = np.array([[7, 5, 3, 9], [-1, 2, 4, -1]])
    assert merge_candidates(first, second).tolist() == [
        [3, 1, 7, 5, 9, -1, -1, -1],
        [2, 4, -1, -1, -1, -1, -1, -1],
    ]


def test_member_is_isin():
    rng = np.random.default_rng(3)
    for _ in range(500):
        values = rng.integers(-2, 40, int(rng.integers(0, 30)))
        rows = rng.integers(-2, 40, int(rng.integers(0, 30))).astype(np.int32)
        assert np.array_equal(member(values, rows), np.isin(values, rows))


def _random_rows(rng: np.random.Generator, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """float32 rows of 0-40 entries, columns in any order (as record tags are stored), some
    rows empty, weights spanning magnitudes: float sums that depend on their order."""
    rows = []
    for _ in range(n_rows):
        k = int(rng.integers(0, min(40, n_cols) + 1))
        columns = rng.permutation(n_cols)[:k]
        values = (rng.lognormal(0, 2, k) * rng.choice([-1, 1], k)).astype(np.float32)
        rows.append((columns, values))
    indptr = np.concatenate([[0], np.cumsum([len(c) for c, _ in rows])])
    return sp.csr_matrix(
        (
            np.concatenate([v for _, v in rows]).astype(np.float32),
            np.concatenate([c for c, _ in rows]).astype(np.int32),
            indptr,
        ),
        shape=(n_rows, n_cols),
    )


def _bits(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    return values.view(np.uint32 if values.dtype == np.float32 else np.uint64)


def test_one_row_unit_weights_and_product_are_scipys_to_the_bit():
    rng = np.random.default_rng(2)
    matrix = _random_rows(rng, 300, 90)
    normalized = l2_normalize_rows(matrix)
    for dense_type in (np.float32, np.float64):
        dense = rng.normal(size=(90, 17)).astype(dense_type)
        product = np.asarray(matrix @ dense)
        for row in range(matrix.shape[0]):
            columns, values = SparseRows.one(matrix, row).row(0)
            assert np.array_equal(_bits(row_product(columns, values, dense)), _bits(product[row]))
            if dense_type is np.float32:
                expected = normalized.data[normalized.indptr[row] : normalized.indptr[row + 1]]
                assert np.array_equal(_bits(unit_row(values)), _bits(expected))


def test_a_cold_users_query_from_one_row_is_the_batched_one_to_the_bit():
    rng = np.random.default_rng(3)
    n_tags, factors, dim = 120, 12, 6
    space = HybridSpace(
        tag_components=rng.normal(size=(n_tags, dim)).astype(np.float32),
        item_projection=RidgeProjection(
            np.arange(3), np.zeros((3, factors), np.float32), np.zeros(factors, np.float32)
        ),
        # a subset of the columns: tags outside it carry no CF weight
        user_projection=RidgeProjection(
            np.sort(rng.choice(n_tags, 70, replace=False)),
            rng.normal(size=(70, factors)).astype(np.float32),
            rng.normal(size=factors).astype(np.float32),
        ),
        user_cf_scale=1.7,
        item_cf_scale=1.0,
        tag_share=0.3,
        n_factors=factors,
    )
    declared = l2_normalize_rows(_random_rows(rng, 400, n_tags))
    batched = space.cold_user(declared)
    for row in range(declared.shape[0]):
        one = space.cold_user_row(*SparseRows.one(declared, row).row(0))
        assert np.array_equal(_bits(one), _bits(batched[row])), row
