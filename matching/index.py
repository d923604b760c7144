"""Inner-product search over joint vectors with FAISS, filters applied inside the search.

Up to IndexConfig.exact_max rows the index is exact (IndexFlatIP); above it, by default
(IndexConfig.large_kind = "ivf_sq8") an inverted file whose cells hold 8-bit scalar-quantised
codes, or HNSW with an inner-product metric. At a million users HNSW's build takes hours on
the training node, IVF's minutes, and IVF's codes are a quarter of the vectors' size.

Joint vectors differ a lot in norm, and the largest inner products belong mostly to the
longest rows: cells found by inner product (a vector goes to the centroid it has the largest
product with) then hold the wrong neighbours, and IVF found under 20 % of the exact top-1000
audience at 1M users (BENCHMARKS.md). The IVF therefore answers a nearest-neighbour question
that has the same answer: every row gets one extra coordinate sqrt(R² − ‖x‖²), R the largest
row norm, so all rows have norm R, and the query gets 0 there; then ‖x' − q'‖² = R² + ‖q‖² −
2·x·q, and the nearest rows in L2 are the largest inner products (the MIPS → L2 reduction,
Bachrach et al. 2014). Cells are L2 k-means cells. The index returns `ivf_rerank` × n
candidates, which are re-scored exactly from the row vectors (memory-mapped in serving): the
scores are exact inner products, as from the flat index, and SQ8's rounding only decides
which candidates are looked at, not their order.

Allowed/excluded ids become one IDSelectorBitmap passed in the search parameters, so FAISS only
ever collects eligible ids and `n` results come back when `n` eligible rows exist. HNSW and IVF
can still miss some when the filter is very selective (the graph walk or the probed cells meet
few eligible rows); a filter admitting at most `filter_exact_max` ids is therefore searched by
brute force over just those rows (cheaper than the walk anyway), and any query answered short
is re-run exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from matching.base import PAD_ID, PAD_SCORE, allowed_mask, top_n
from matching.config import IndexConfig

_EXACT_CHUNK_ROWS = 1 << 18


def set_search_threads(threads: int) -> None:
    """Threads FAISS may use per search in this process (OpenMP, process-wide). A serving
    process wants 1: its requests run side by side, and a thread team woken for one query
    costs more than the query."""
    faiss.omp_set_num_threads(threads)


class VectorIndex:
    def __init__(self, vectors: np.ndarray, index: faiss.Index, config: IndexConfig) -> None:
        if index.ntotal != len(vectors):
            raise ValueError("index and vectors disagree on the number of rows")
        self.vectors = vectors
        self.index = index
        self.config = config
        self._radius: float | None = None

    @property
    def kind(self) -> str:
        if isinstance(self.index, faiss.IndexHNSW):
            return "hnsw"
        return "ivf_sq8" if isinstance(self.index, faiss.IndexIVF) else "flat"

    @property
    def augmented(self) -> bool:
        """The index holds MIPS-augmented rows (more columns than the vectors). An artifact
        written before the reduction holds an inner-product IVF: it still loads and
        searches, with the same exact re-ranking."""
        return int(self.index.d) > self.vectors.shape[1]

    def _query_radius(self) -> float:
        """The norm queries are scaled to before the L2 search. Their scale does not change
        which rows are nearest, but it does change which cells look nearest: with a short
        query every cell is about radius away and the centroids' own norms decide, so cells
        of long rows are skipped (recall@1000 0.32 at 64 probes over 100k users, 0.84 with
        queries scaled to the radius). The largest centroid norm is the radius to within
        the spread of the tightest cell."""
        if self._radius is None:
            centroids = faiss.downcast_index(faiss.extract_index_ivf(self.index).quantizer)
            stored = centroids.reconstruct_n(0, centroids.ntotal)
            self._radius = float(np.sqrt(np.einsum("ij,ij->i", stored, stored).max()))
        return self._radius

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def build(cls, vectors: np.ndarray, config: IndexConfig) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        index: faiss.Index
        if n <= config.exact_max:
            index = faiss.IndexFlatIP(dim)
            index.add(vectors)
        elif config.large_kind == "ivf_sq8":
            index = _build_ivf_sq8(vectors, config)
        else:
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.hnsw_ef_construction
            index.hnsw.efSearch = config.hnsw_ef_search
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(config.build_threads)  # 1 = the same graph every run
            try:
                index.add(vectors)
            finally:
                faiss.omp_set_num_threads(threads)
        return cls(vectors, index, config)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(
        cls, path: Path, vectors: np.ndarray, config: IndexConfig, mmap: bool = False
    ) -> VectorIndex:
        """mmap: the index's stored vectors stay in the file (FAISS IO_FLAG_MMAP_IFC), shared
        by every process that maps it; an HNSW graph is still read into memory. The file must
        not change while mapped (artifacts are never rewritten in place)."""
        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(vectors, faiss.read_index(str(path), flags), config)

    def search(
        self,
        queries: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top n rows by inner product per query; (-1, -inf) padding when fewer qualify.
        allowed: the rows a result may be, as row numbers or as a bool mask over all rows
        (a caller holding the mask saves its rebuilding from rows on every query)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        m, total = len(queries), len(self)
        eligible = self._eligible(allowed, excluded)
        count = total if eligible is None else int(np.count_nonzero(eligible))
        if n <= 0 or count == 0:
            return top_n(np.full((m, 0), PAD_SCORE, np.float32), n)
        filtered = eligible is not None and count < total
        if self.kind != "flat" and filtered and count <= self.config.filter_exact_max:
            assert eligible is not None
            return self.exact(queries, n, np.flatnonzero(eligible))
        k = min(n, total)
        rerank = self.kind == "ivf_sq8"
        width = min(total, max(k, math.ceil(self.config.ivf_rerank * k))) if rerank else k
        params, bitmap = self._params(eligible if filtered else None, width)
        searched = queries
        if self.augmented:
            norms = np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
            searched = np.zeros((m, self.index.d), np.float32)
            searched[:, : queries.shape[1]] = queries * (self._query_radius() / norms)
        distances, ids = self.index.search(searched, width, params=params)
        del bitmap  # FAISS reads it through a raw pointer: keep it alive until here
        ids = ids.astype(np.int64)
        if rerank:
            ids, scores = self._rescore(queries, ids, k)
        else:
            scores = np.where(ids >= 0, distances, PAD_SCORE).astype(np.float32)
        short = (ids >= 0).sum(axis=1) < min(k, count)
        if short.any():
            rows = None if eligible is None else np.flatnonzero(eligible)
            ids[short], scores[short] = self.exact(queries[short], k, rows)
        return _pad(ids, scores, n)

    def search_each(
        self,
        queries: np.ndarray,
        n: int,
        excluded: Sequence[np.ndarray],
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """search() for each query with its own excluded rows, one query per FAISS call:
        FAISS takes one id filter per call, and a one-query call is what serving runs (a
        batch of 20 or more goes through BLAS, whose rounding differs), so answers computed
        ahead (matching/precomputed.py) are the very floats an online call returns."""
        queries = np.atleast_2d(queries)
        ids = np.full((len(queries), n), PAD_ID, np.int64)
        scores = np.full((len(queries), n), PAD_SCORE, np.float32)
        for i, (query, rows) in enumerate(zip(queries, excluded, strict=True)):
            ids[i], scores[i] = (part[0] for part in self.search(query[None, :], n, allowed, rows))
        return ids, scores

    def exact(
        self, queries: np.ndarray, n: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over `rows` (all when None), in chunks of rows."""
        best_ids = np.full((len(queries), 0), PAD_ID, np.int64)
        best_scores = np.full((len(queries), 0), PAD_SCORE, np.float32)
        total = len(self) if rows is None else len(rows)
        for start in range(0, total, _EXACT_CHUNK_ROWS):
            block_rows = (
                np.arange(start, min(start + _EXACT_CHUNK_ROWS, total))
                if rows is None
                else rows[start : start + _EXACT_CHUNK_ROWS]
            )
            scores = queries @ np.asarray(self.vectors[block_rows]).T
            ids, top = top_n(scores, n)
            ids = np.where(ids >= 0, block_rows[np.maximum(ids, 0)], PAD_ID)
            merged_ids = np.hstack([best_ids, ids])
            merged = np.hstack([best_scores, top])
            order, best_scores = top_n(merged, n)
            best_ids = np.where(
                order >= 0, np.take_along_axis(merged_ids, np.maximum(order, 0), 1), PAD_ID
            )
        return _pad(best_ids, best_scores, n)

    def _rescore(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products of each query's candidates, best k first. One query at a
        time: a batch would gather (queries × candidates × dim) floats at once."""
        ids = np.full((len(queries), k), PAD_ID, np.int64)
        scores = np.full((len(queries), k), PAD_SCORE, np.float32)
        for i, (query, rows) in enumerate(zip(queries, candidates, strict=True)):
            rows = np.sort(rows[rows >= 0])  # ascending: the gather reads pages in order
            exact = np.asarray(self.vectors[rows]) @ query
            order, best = top_n(exact[None, :], k)
            kept = order[0] >= 0
            ids[i, : kept.sum()] = rows[order[0][kept]]
            scores[i, : kept.sum()] = best[0][kept]
        return ids, scores

    def _eligible(
        self, allowed: np.ndarray | None, excluded: np.ndarray | None
    ) -> np.ndarray | None:
        if allowed is None and (excluded is None or len(excluded) == 0):
            return None
        total = len(self)
        if allowed is None:
            mask = np.ones(total, dtype=bool)
        elif np.asarray(allowed).dtype == np.bool_:
            if len(allowed) != total:
                raise ValueError("an allowed mask needs one entry per indexed row")
            mask = np.array(allowed, dtype=bool)  # a copy: the exclusions go into it
        else:
            from_rows = allowed_mask(allowed, total)  # None only when allowed is None
            assert from_rows is not None
            mask = from_rows
        if excluded is not None and len(excluded):
            rows = np.asarray(excluded, dtype=np.int64)
            mask[rows[(rows >= 0) & (rows < total)]] = False
        return mask

    def _params(
        self, eligible: np.ndarray | None, k: int
    ) -> tuple[faiss.SearchParameters | None, np.ndarray | None]:
        selector = None
        bitmap = None
        if eligible is not None:
            bitmap = np.packbits(eligible, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(eligible), faiss.swig_ptr(bitmap))
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                efSearch=max(self.config.hnsw_ef_search, k)
            )
            if selector is not None:
                params.sel = selector
            return params, bitmap
        if self.kind == "ivf_sq8":
            ivf = faiss.SearchParametersIVF(nprobe=self.config.ivf_nprobe)  # type: ignore[call-arg]
            if selector is not None:
                ivf.sel = selector
            return ivf, bitmap
        if selector is None:
            return None, None
        return faiss.SearchParameters(sel=selector), bitmap  # type: ignore[call-arg]


def mips_augment(vectors: np.ndarray, radius: float) -> np.ndarray:
    """Rows padded to a multiple of 8 columns (FAISS's SIMD scalar-quantiser kernels need
    that) whose extra columns share sqrt(radius² − ‖x‖²) equally: every row's norm becomes
    radius, so nearest in L2 to (q, 0…) means largest inner product with q."""
    pad = _augment_width(vectors.shape[1])
    squared = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
    extra = np.sqrt(np.maximum(radius * radius - squared, 0.0) / pad)
    return np.hstack([vectors, np.repeat(extra[:, None], pad, axis=1)]).astype(np.float32)


def _augment_width(dim: int) -> int:
    return 8 - dim % 8 if dim % 8 else 8


def _build_ivf_sq8(vectors: np.ndarray, config: IndexConfig) -> faiss.Index:
    n, dim = vectors.shape
    lists = config.ivf_lists or 4 * round(np.sqrt(n))
    lists = max(1, min(lists, n // 39))  # FAISS wants >= 39 training points per cell
    radius = 0.0
    for start in range(0, n, _EXACT_CHUNK_ROWS):
        block = vectors[start : start + _EXACT_CHUNK_ROWS]
        radius = max(radius, float(np.sqrt(np.einsum("ij,ij->i", block, block).max())))
    width = dim + _augment_width(dim)
    quantizer = faiss.IndexFlatL2(width)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, width, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2
    )
    index.cp.seed = 1234  # k-means from a fixed seed: the same cells every run
    sample = np.sort(np.random.default_rng(0).permutation(n)[: config.ivf_train_max])
    index.train(mips_augment(vectors[sample], radius))
    for start in range(0, n, _EXACT_CHUNK_ROWS):  # augmented copy a chunk at a time
        index.add(mips_augment(vectors[start : start + _EXACT_CHUNK_ROWS], radius))
    index.nprobe = config.ivf_nprobe
    return index


def _pad(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if ids.shape[1] >= n:
        return ids[:, :n], scores[:, :n]
    width = n - ids.shape[1]
    return (
        np.hstack([ids, np.full((len(ids), width), PAD_ID, np.int64)]),
        np.hstack([scores, np.full((len(ids), width), PAD_SCORE, np.float32)]),
    )
