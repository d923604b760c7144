"""Joint user/item vectors: CF factors and a tag embedding in one inner-product space.

joint = [sqrt(1 - a) * cf / s, sqrt(a) * unit(tag embedding)], a = HybridConfig.tag_share, so
one inner product scores (1 - a) * CF affinity + a * tag cosine, and one FAISS index serves both.

* Scales. Tag embeddings are unit rows (their inner product is a cosine in [-1, 1]). CF factors
  are divided by the root-mean-square norm of the warm rows of their side, not per row: the
  norm of an ALS item vector carries its popularity and the norm of a user vector how much we
  know about them, both worth keeping; after the division a typical CF product is also O(1).
* Tag embedding. A truncated SVD of the stacked item and user tag matrices (each block scaled to
  equal total mass so millions of users do not drown thousands of items). Users' rows hold
  declared attributes next to the tags of what they consumed, so the SVD places `age:25-34`
  near the genres that age band consumes; that is what lets a user with only attributes
  meet items by tags. It is unsupervised, deterministic and cheap, which a learned mapping
  (e.g. LightFM-style feature embeddings) would not be at the same cost.
* Cold start. Ridge regressions tags -> CF factors, closed form with an intercept, fitted on
  warm items (item tags) and warm users (declared tags only: all a new user brings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from matching.base import unit_rows
from matching.config import HybridConfig
from matching.csr_rows import l2_normalize_rows
from matching.sparse_rows import row_product
from matching.tagspace import TagSpace

_DENSE_GRAM_MAX = 1024  # up to this many tags an exact eigendecomposition of the Gram wins
_GRAM_BLOCK_ENTRIES = 1 << 20  # dense row block of the Gram product: 8 MB of float64
_JOINT_BLOCK_ROWS = 16_384  # joint vectors in row blocks: float64 temporaries of ~8 MB
_TARGET_BLOCK_ROWS = 8192  # ridge targets widened to float64 in row blocks of ~4 MB


def _gram(matrix: sp.csr_matrix) -> np.ndarray:
    """matrix.T @ matrix as a dense float64 array, for few columns (<= _DENSE_GRAM_MAX).

    Dense row blocks through one BLAS product each: scipy's sparse product costs the sum of
    squared row lengths in scalar code (a million users with ~30 tags each made it the
    largest part of the hybrid step); the dense blocks cost rows x columns² in BLAS, ~3x
    faster at 233 tags (BENCHMARKS.md, issue 16). Equal to the sparse product up to the
    order of the float64 sums."""
    matrix = sp.csr_matrix(matrix)
    n_cols = matrix.shape[1]
    gram = np.zeros((n_cols, n_cols), np.float64)
    step = max(1, _GRAM_BLOCK_ENTRIES // max(n_cols, 1))
    # Without duplicate entries each dense cell is one stored value, so widening the stored
    # values first gives the same float64 block as widening the dense float32 one, without
    # the float32 dense copy (duplicates would be summed in another precision).
    widen_first = matrix.has_canonical_format
    for start in range(0, matrix.shape[0], step):
        part = matrix[start : start + step]
        if widen_first:
            part = sp.csr_matrix(
                (part.data.astype(np.float64), part.indices, part.indptr), shape=part.shape
            )
        block = part.toarray().astype(np.float64, copy=False)
        gram += block.T @ block
    return gram


def _top_eigenvectors(gram: np.ndarray, k: int) -> np.ndarray:
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:k]
    keep = order[values[order] > 1e-9 * max(values.max(), 1e-30)]
    return vectors[:, keep]


def _top_right_singular_vectors(matrix: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    k = min(k, min(matrix.shape) - 1)
    v0 = np.random.default_rng(seed).standard_normal(min(matrix.shape))
    _, sigma, vt = svds(matrix.astype(np.float64), k=k, v0=v0)
    order = np.argsort(sigma)[::-1]
    return vt[order].T


def fit_tag_components(
    item_tags: sp.csr_matrix, user_tags: sp.csr_matrix, dim: int, seed: int = 0
) -> np.ndarray:
    """(n_tags, k <= dim) projection onto the main tag co-occurrence directions: the top
    right singular vectors of the stacked blocks, each block scaled by 1/sqrt(its filled
    rows). Up to _DENSE_GRAM_MAX tags, the top eigenvectors of the stacked Gram, which is
    the sum of the blocks' Grams scaled by 1/filled: no stacked copy of a million rows."""
    weighted = []
    for block in (item_tags, user_tags):
        filled = int((np.diff(block.indptr) > 0).sum())
        if filled:
            weighted.append((block, 1.0 / np.sqrt(filled)))
    n_tags = item_tags.shape[1]
    if not weighted or n_tags == 0:
        return np.zeros((n_tags, 0), np.float32)
    if n_tags <= _DENSE_GRAM_MAX:
        gram = np.zeros((n_tags, n_tags), np.float64)
        for block, scale in weighted:
            gram += _gram(block) * (scale * scale)
        return _top_eigenvectors(gram, dim).astype(np.float32)
    stacked = sp.csr_matrix(sp.vstack([block * scale for block, scale in weighted]))
    return _top_right_singular_vectors(stacked, dim, seed).astype(np.float32)


@dataclass(slots=True)
class RidgeProjection:
    """factors ~ intercept + tags[:, columns] @ weights."""

    columns: np.ndarray  # int64 tag columns used as features
    weights: np.ndarray  # (len(columns), n_factors) float32
    intercept: np.ndarray  # (n_factors,) float32

    def apply(self, tags: sp.csr_matrix) -> np.ndarray:
        features = sp.csr_matrix(tags)[:, self.columns]
        return np.asarray(features @ self.weights, dtype=np.float32) + self.intercept

    def apply_row(self, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """apply() on one row (columns, values), to the bit, without sparse matrices."""
        position = np.searchsorted(self.columns, columns)  # self.columns are ascending
        found = position < len(self.columns)
        found[found] = self.columns[position[found]] == np.asarray(columns)[found]
        product = row_product(position[found], np.asarray(values)[found], self.weights)
        return product.astype(np.float32) + self.intercept


def fit_ridge(
    features: sp.csr_matrix,
    targets: np.ndarray,
    rows: np.ndarray,
    lam: float,
    max_features: int,
) -> RidgeProjection:
    """Closed-form ridge with an unpenalised intercept (centred normal equations), fitted on
    the rows where the boolean `rows` is true (features and targets hold every row).

    Features are capped to the `max_features` most frequent tags: rarer tags have too few
    rows to move a regularised weight, and the Gram matrix stays small enough to factorise.

    Every sum is the one a float64 copy of the fitted rows would give, in the same order (so
    the same bits), without that copy: at a million users the copies of the rows, of the
    targets widened to float64 and of the columns were most of the cost (BENCHMARKS.md,
    issue 16). The fitted rows are picked from the features' stored entries, the targets
    widened a block of rows at a time (_cross_products).
    """
    rows = np.asarray(rows, dtype=bool)
    n_rows, n_factors = int(rows.sum()), targets.shape[1]
    if n_rows == 0:
        return RidgeProjection(
            np.zeros(0, np.int64),
            np.zeros((0, n_factors), np.float32),
            np.zeros(n_factors, np.float32),
        )
    x_fit, x_all, used = _fitted_columns(sp.csr_matrix(features), rows, max_features)
    x_mean = np.asarray(x_fit.mean(axis=0)).ravel()
    products = _gram(x_fit) if len(used) <= _DENSE_GRAM_MAX else (x_fit.T @ x_fit).toarray()
    gram = products - n_rows * np.outer(x_mean, x_mean)
    gram[np.diag_indices_from(gram)] += lam
    xy, y_sum = _cross_products(x_all, targets, rows)
    y_mean = y_sum / n_rows  # numpy's mean: the sum from 0 in row order, over the count
    cross = xy - n_rows * np.outer(x_mean, y_mean)
    weights = la.solve(gram, cross, assume_a="pos") if len(used) else np.zeros((0, n_factors))
    intercept = y_mean - x_mean @ weights
    return RidgeProjection(
        used.astype(np.int64), weights.astype(np.float32), intercept.astype(np.float32)
    )


def _fitted_columns(
    features: sp.csr_matrix, rows: np.ndarray, max_features: int
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """(x_fit, x_all, used): float64 features of the fitted rows in the used columns, as
    features[rows][:, used] (entries in stored order, columns renumbered), and the same
    entries over every row (unfitted rows empty); both share one data and indices array."""
    counts = np.diff(features.indptr)
    entry_kept = None if rows.all() else np.repeat(rows, counts)
    columns = features.indices if entry_kept is None else features.indices[entry_kept]
    frequency = np.bincount(columns, minlength=features.shape[1])
    used = np.flatnonzero(frequency)
    data = features.data if entry_kept is None else features.data[entry_kept]
    row_counts = np.where(rows, counts, 0)
    if len(used) > max_features:
        used = np.sort(used[np.argsort(-frequency[used], kind="stable")[:max_features]])
        in_used = np.zeros(features.shape[1], bool)
        in_used[used] = True
        kept = in_used[features.indices]
        if entry_kept is not None:
            kept &= entry_kept
        before = _indptr(kept)
        row_counts = before[features.indptr[1:]] - before[features.indptr[:-1]]
        columns, data = features.indices[kept], features.data[kept]
    position = np.zeros(features.shape[1], np.int32)
    position[used] = np.arange(len(used), dtype=np.int32)
    indices, data = position[columns], data.astype(np.float64)
    fit_indptr = _indptr(row_counts[rows])
    x_fit = sp.csr_matrix((data, indices, fit_indptr), shape=(len(fit_indptr) - 1, len(used)))
    x_all = sp.csr_matrix((data, indices, _indptr(row_counts)), shape=(len(rows), len(used)))
    return x_fit, x_all, used


def _cross_products(
    x_all: sp.csr_matrix, targets: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(x.T @ y, y's column sums) for x, y the fitted rows of x_all and targets, in float64,
    each cell's terms added from 0 in row order, as x.T @ y and y.sum(axis=0) on copies of
    the fitted rows add them (the same bits), with the targets widened a block of rows at a
    time rather than all at once.

    scipy's x.T @ y adds the rows of x into the result one after the other, from zeros. To
    go on from the previous blocks' sums in that same order, each block's product starts
    with an identity row per result row, paired with those sums (1.0 * s is s exactly). A
    column of ones at the fitted rows sums the targets in the same pass."""
    (n_all, n_used), n_rows = x_all.shape, int(rows.sum())
    ones = sp.csr_matrix(
        (np.ones(n_rows), np.zeros(n_rows, np.int32), _indptr(rows)), shape=(n_all, 1)
    )
    augmented = sp.csr_matrix(sp.hstack([x_all, ones], format="csr"))
    carry = sp.identity(n_used + 1, format="csr")
    sums = np.zeros((n_used + 1, targets.shape[1]), np.float64)
    for start in range(0, n_all, _TARGET_BLOCK_ROWS):
        stop = min(start + _TARGET_BLOCK_ROWS, n_all)
        block = sp.csr_matrix(sp.vstack([carry, augmented[start:stop]], format="csr"))
        y = np.concatenate([sums, targets[start:stop]]).astype(np.float64, copy=False)
        sums = np.asarray(block.T @ y)
    return sums[:n_used], sums[n_used]


def _indptr(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _rms_norm(vectors: np.ndarray, rows: np.ndarray) -> float:
    """Root-mean-square norm of vectors[rows]: float64 squares summed per row (in row blocks,
    no float64 copy of every row; a row's sum is its own), averaged over the rows."""
    if not rows.any():
        return 1.0
    sums = np.empty(len(vectors), np.float64)
    for start in range(0, len(vectors), _TARGET_BLOCK_ROWS):
        block = vectors[start : start + _TARGET_BLOCK_ROWS].astype(np.float64)
        np.square(block, out=block)
        sums[start : start + _TARGET_BLOCK_ROWS] = np.sum(block, axis=1)
    rms = float(np.sqrt(np.mean(sums[rows])))
    return rms if rms > 0 else 1.0


@dataclass(slots=True)
class HybridSpace:
    """Everything needed to place any user or item, known or new, in the joint space."""

    tag_components: np.ndarray  # (n_tags, tag_dim)
    item_projection: RidgeProjection
    user_projection: RidgeProjection
    user_cf_scale: float
    item_cf_scale: float
    tag_share: float
    n_factors: int

    @property
    def dim(self) -> int:
        return self.n_factors + self.tag_components.shape[1]

    def joint(self, cf: np.ndarray, tags: sp.csr_matrix, side: str) -> np.ndarray:
        # Both parts computed in float64 and written straight into one float32 array (as
        # stacking them and casting did, to the bit): at a million users the stacking
        # copies cost as much as the products. In row blocks, so the float64 temporaries
        # stay in cache; every step is row by row, so the blocks change no value.
        tags = sp.csr_matrix(tags)
        out = np.empty((len(cf), self.dim), np.float32)
        for start in range(0, len(cf), _JOINT_BLOCK_ROWS):
            rows = slice(start, start + _JOINT_BLOCK_ROWS)
            self._joint_into(out[rows], cf[rows], tags[rows] @ self.tag_components, side)
        return out

    def _joint_into(
        self, out: np.ndarray, cf: np.ndarray, tag_product: np.ndarray, side: str
    ) -> None:
        """Joint rows from CF factors and the tags' product with the tag components."""
        self.cf_part(cf, side, out[:, : self.n_factors])
        embedded = unit_rows(np.asarray(tag_product, dtype=np.float32))  # unit tag embedding
        tag_part = out[:, self.n_factors :]
        np.multiply(embedded, np.sqrt(self.tag_share), out=tag_part, dtype=np.float64)

    def cf_part(self, cf: np.ndarray, side: str, out: np.ndarray | None = None) -> np.ndarray:
        """The CF columns of joint vectors, sqrt(1 - a) * cf / s in float64, as float32."""
        scale = self.user_cf_scale if side == "user" else self.item_cf_scale
        cf_weighted = np.multiply(cf, np.sqrt(1.0 - self.tag_share), dtype=np.float64)
        if out is None:
            out = np.empty(cf.shape, np.float32)
        np.divide(cf_weighted, scale, out=out, dtype=np.float64)
        return out

    def cold_user(self, declared: sp.csr_matrix) -> np.ndarray:
        """Joint vectors of users known only by their declared tags."""
        return self.joint(self.user_projection.apply(declared), declared, "user")

    def cold_user_row(self, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """cold_user() of one declared row (columns, values), to the bit, (dim,): the per-request
        cold start without a dozen sparse matrices (about 0.4 ms of scipy overhead)."""
        out = np.empty((1, self.dim), np.float32)
        cf = self.user_projection.apply_row(columns, values)[None, :]
        tag_product = row_product(columns, values, self.tag_components)[None, :]
        self._joint_into(out, cf, tag_product, "user")
        return out[0]

    def cold_item(self, item_tags: sp.csr_matrix) -> np.ndarray:
        return self.joint(self.item_projection.apply(item_tags), item_tags, "item")

    def cf_and_tag_parts(
        self, query: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Split inner products of one query vector with candidates into CF and tag parts."""
        f = self.n_factors
        return candidates[:, :f] @ query[:f], candidates[:, f:] @ query[f:]


def build_hybrid(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    interactions: sp.csr_matrix,
    tagspace: TagSpace,
    config: HybridConfig,
    seed: int = 0,
) -> tuple[HybridSpace, np.ndarray, np.ndarray]:
    """(space, user joint vectors, item joint vectors). Rows without events are cold:
    their CF part comes from the tag projections."""
    warm_users = np.diff(interactions.indptr) > 0
    warm_items = np.bincount(interactions.indices, minlength=interactions.shape[1]) > 0
    user_tags = sp.csr_matrix(tagspace.user_matrix(), dtype=np.float32)
    item_tags = sp.csr_matrix(tagspace.item_tags, dtype=np.float32)
    # unit rows, as TagSpace.user_tag_vector hands us a new user's declared tags
    declared = l2_normalize_rows(tagspace.user_declared)
    space = HybridSpace(
        tag_components=fit_tag_components(item_tags, user_tags, config.tag_dim, seed),
        item_projection=fit_ridge(
            item_tags, item_factors, warm_items, config.ridge_lambda, config.ridge_max_features
        ),
        user_projection=fit_ridge(
            declared, user_factors, warm_users, config.ridge_lambda, config.ridge_max_features
        ),
        user_cf_scale=_rms_norm(user_factors, warm_users),
        item_cf_scale=_rms_norm(item_factors, warm_items),
        tag_share=config.tag_share,
        n_factors=user_factors.shape[1],
    )
    # The joint vectors of the factors as they are, then the cold rows' CF part replaced by
    # their projection's: row by row what joint gives on a copy of the factors with the cold
    # rows replaced, without that copy.
    users = space.joint(user_factors, user_tags, "user")
    items = space.joint(item_factors, item_tags, "item")
    for joint, cold, projection, tags, side in (
        (users, ~warm_users, space.user_projection, declared, "user"),
        (items, ~warm_items, space.item_projection, item_tags, "item"),
    ):
        if cold.any():
            rows = np.flatnonzero(cold)
            joint[rows, : space.n_factors] = space.cf_part(projection.apply(tags[rows]), side)
    return space, users, items
