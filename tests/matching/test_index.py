"""FAISS search: HNSW and IVF recall against exact, filters inside the search, padding,
determinism, the MIPS reduction on rows of very different norms."""

from __future__ import annotations

import numpy as np
import pytest

from matching.base import PAD_ID
from matching.config import IndexConfig
from matching.index import VectorIndex

HNSW = IndexConfig(exact_max=1000, large_kind="hnsw")  # shipped HNSW parameters, forced on


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Vectors around 64 centres with varying norms, like joint vectors (not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dim))
    points = centres[rng.integers(0, 64, n)] + 0.6 * rng.standard_normal((n, dim))
    return (points * rng.uniform(0.5, 1.5, (n, 1))).astype(np.float32)


@pytest.fixture(scope="module")
def hnsw_index() -> tuple[VectorIndex, VectorIndex, np.ndarray]:
    vectors = _clustered(20_000, 32, seed=1)
    queries = _clustered(200, 32, seed=2)
    approximate = VectorIndex.build(vectors, HNSW)
    exact = VectorIndex.build(vectors, IndexConfig(exact_max=50_000))
    return approximate, exact, queries


def test_kind_follows_size():
    small = VectorIndex.build(_clustered(50, 8, 0), IndexConfig(exact_max=50))
    large = VectorIndex.build(_clustered(51, 8, 0), IndexConfig(exact_max=50))
    hnsw = VectorIndex.build(_clustered(51, 8, 0), IndexConfig(exact_max=50, large_kind="hnsw"))
    assert (small.kind, large.kind, hnsw.kind) == ("flat", "ivf_sq8", "hnsw")


def test_hnsw_recall_against_exact(hnsw_index):
    approximate, exact, queries = hnsw_index
    assert approximate.kind == "hnsw" and exact.kind == "flat"
    found, _ = approximate.search(queries, 10)
    truth, _ = exact.search(queries, 10)
    hits = sum(len(set(a) & set(t)) for a, t in zip(found.tolist(), truth.tolist(), strict=True))
    assert hits / truth.size >= 0.9


def test_exact_matches_numpy(hnsw_index):
    _, exact, queries = hnsw_index
    ids, scores = exact.search(queries[:5], 7)
    reference = queries[:5] @ exact.vectors.T
    assert np.allclose(scores, -np.sort(-reference, axis=1)[:, :7], atol=1e-4)
    assert np.allclose(np.take_along_axis(reference, ids, 1), scores, atol=1e-4)


@pytest.mark.parametrize("which", ["hnsw", "flat"])
@pytest.mark.parametrize("n_allowed", [5, 300, 15_000])
def test_filters_return_n_when_possible(hnsw_index, which, n_allowed):
    approximate, exact, queries = hnsw_index
    index = approximate if which == "hnsw" else exact
    config = IndexConfig(**{**HNSW.model_dump(), "filter_exact_max": 100})
    index = VectorIndex(index.vectors, index.index, config)
    rng = np.random.default_rng(n_allowed)
    allowed = rng.choice(len(index), size=n_allowed, replace=False)
    excluded = allowed[:2]
    ids, scores = index.search(queries[:20], 10, allowed=allowed, excluded=excluded)
    eligible = set(allowed.tolist()) - set(excluded.tolist())
    expected = min(10, len(eligible))
    assert ((ids != PAD_ID).sum(axis=1) == expected).all()
    assert set(ids[ids != PAD_ID].tolist()) <= eligible
    assert np.all(np.diff(np.where(ids == PAD_ID, -3e38, scores), axis=1) <= 0)
    mask = np.zeros(len(index), bool)
    mask[allowed] = True  # the same filter as a mask over the rows: the same answer
    by_mask = index.search(queries[:20], 10, allowed=mask, excluded=excluded)
    assert np.array_equal(by_mask[0], ids) and np.array_equal(by_mask[1], scores)
    assert mask.sum() == n_allowed  # the caller's mask is left as it was


def test_exclusion_without_allowed_and_padding(hnsw_index):
    approximate, _, queries = hnsw_index
    first, _ = approximate.search(queries[:3], 5)
    again, _ = approximate.search(queries[:3], 5, excluded=first.ravel())
    assert not set(again.ravel().tolist()) & set(first.ravel().tolist())
    small = VectorIndex.build(_clustered(4, 8, 0), IndexConfig())
    ids, scores = small.search(_clustered(2, 8, 3), 6, excluded=np.array([1]))
    assert ((ids != PAD_ID).sum(axis=1) == 3).all() and (ids[:, 3:] == PAD_ID).all()
    assert np.isneginf(scores[:, 3:]).all()
    ids, _ = small.search(_clustered(1, 8, 3), 3, allowed=np.array([], np.int64))
    assert (ids == PAD_ID).all()


def test_hnsw_build_is_deterministic():
    vectors = _clustered(3000, 16, seed=4)
    config = IndexConfig(
        exact_max=100, large_kind="hnsw", hnsw_m=8, hnsw_ef_construction=20, hnsw_ef_search=16
    )
    queries = _clustered(30, 16, seed=5)
    first = VectorIndex.build(vectors, config).search(queries, 10)
    second = VectorIndex.build(vectors, config).search(queries, 10)
    assert np.array_equal(first[0], second[0])


def test_save_load_roundtrip(tmp_path, hnsw_index):
    approximate, _, queries = hnsw_index
    approximate.save(tmp_path / "items.faiss")
    loaded = VectorIndex.load(tmp_path / "items.faiss", approximate.vectors, approximate.config)
    assert loaded.kind == "hnsw"
    assert np.array_equal(loaded.search(queries[:5], 5)[0], approximate.search(queries[:5], 5)[0])


IVF_SQ8 = IndexConfig(exact_max=1000, large_kind="ivf_sq8", ivf_nprobe=64, filter_exact_max=100)


@pytest.fixture(scope="module")
def ivf_index(hnsw_index) -> VectorIndex:
    _, exact, _ = hnsw_index
    return VectorIndex.build(exact.vectors, IVF_SQ8)


def test_ivf_sq8_recall_against_exact_filters_and_round_trip(ivf_index, hnsw_index, tmp_path):
    _, exact, queries = hnsw_index
    assert ivf_index.kind == "ivf_sq8"
    found, _ = ivf_index.search(queries, 100)
    truth, _ = exact.search(queries, 100)
    hits = sum(len(set(a) & set(t)) for a, t in zip(found.tolist(), truth.tolist(), strict=True))
    assert hits / truth.size >= 0.9
    allowed = np.random.default_rng(0).choice(len(ivf_index), size=300, replace=False)
    ids, _ = ivf_index.search(queries[:20], 10, allowed=allowed, excluded=allowed[:2])
    assert ((ids != PAD_ID).sum(axis=1) == 10).all()
    assert set(ids.ravel().tolist()) <= set(allowed[2:].tolist())
    ivf_index.save(tmp_path / "users.faiss")
    loaded = VectorIndex.load(tmp_path / "users.faiss", ivf_index.vectors, IVF_SQ8)
    assert loaded.kind == "ivf_sq8"
    again = VectorIndex.build(exact.vectors, IVF_SQ8)  # seeded k-means: the same cells
    assert np.array_equal(loaded.search(queries[:5], 20)[0], again.search(queries[:5], 20)[0])


def _skewed(n: int, dim: int, seed: int) -> np.ndarray:
    """Clustered directions with log-normal norms spanning ~30x, like trained joint vectors
    (1M users: norms 0.32 at p10, 0.70 median, 7.7 max): the largest inner products belong
    mostly to the longest rows."""
    rng = np.random.default_rng(seed)
    points = _clustered(n, dim, seed)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return (points * rng.lognormal(-0.3, 0.6, (n, 1))).astype(np.float32)


def test_ivf_finds_the_top_inner_products_of_rows_with_skewed_norms():
    vectors = _skewed(40_000, 32, seed=6)
    queries = _skewed(40, 32, seed=7)
    ivf = VectorIndex.build(vectors, IndexConfig(exact_max=1000, ivf_nprobe=64))
    assert ivf.kind == "ivf_sq8" and ivf.augmented and ivf.dim == 32
    exact = VectorIndex.build(vectors, IndexConfig(exact_max=50_000))
    ids, scores = ivf.search(queries, 200)
    truth, truth_scores = exact.search(queries, 200)
    hits = sum(len(set(a) & set(t)) for a, t in zip(ids.tolist(), truth.tolist(), strict=True))
    assert hits / truth.size >= 0.95
    # scores are exact inner products, best first, as the flat index gives them
    reference = np.einsum("qd,qkd->qk", queries, vectors[ids])
    assert np.allclose(scores, reference, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert np.allclose(scores[:, 0], truth_scores[:, 0], atol=1e-5)


def test_an_inner_product_ivf_from_an_older_artifact_still_searches(tmp_path):
    import faiss

    vectors = _clustered(5_000, 16, seed=8)
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(16), 16, 64, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.train(vectors)
    index.add(vectors)
    faiss.write_index(index, str(tmp_path / "old.faiss"))
    config = IndexConfig(exact_max=100, ivf_nprobe=64)  # every cell: the answer is exact
    old = VectorIndex.load(tmp_path / "old.faiss", vectors, config)
    assert old.kind == "ivf_sq8" and not old.augmented
    queries = _clustered(5, 16, seed=9)
    ids, scores = old.search(queries, 10)
    truth, truth_scores = VectorIndex.build(vectors, IndexConfig()).search(queries, 10)
    assert np.array_equal(ids, truth) and np.allclose(scores, truth_scores, atol=1e-5)
