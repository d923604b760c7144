"""The one interface every recommender honours, shaped after implicit's.

`recommend(user_rows, n, exclude, allowed_items)` and `similar_items` / `similar_users` answer
in rows, batched: ids (len(rows), n) int64 padded with -1 and scores float32 padded with -inf,
best first, ties broken by the lower row. A row outside the fitted vocabulary (e.g. -1, unknown)
gets a row of padding; that is how cold and unknown ids stay normal answers, not errors.

Factor models score by inner product of user and item vectors; the exact scoring here is what
the benchmark and the contract tests use. Serving goes through FAISS (matching/index.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.tagspace import TagSpace

PAD_ID = -1
PAD_SCORE = np.float32(-np.inf)
_CHUNK_CELLS = 1 << 23  # score-matrix cells per batch: 32 MiB of float32


@dataclass(slots=True)
class TrainingData:
    """What a model is fitted on: user x item interaction weights and, optionally, tags."""

    interactions: sp.csr_matrix  # (n_users, n_items) float32, summed event weights
    tagspace: TagSpace | None = None

    @property
    def n_users(self) -> int:
        return int(self.interactions.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.interactions.shape[1])


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best n columns of each row; -inf cells are ineligible and come back as padding."""
    m, width = scores.shape
    ids = np.full((m, n), PAD_ID, dtype=np.int64)
    best = np.full((m, n), PAD_SCORE, dtype=np.float32)
    k = min(n, width)
    if k == 0 or m == 0:
        return ids, best
    if m == 1:  # one query, as serving asks: the same answer without the along-axis helpers
        ids[0, :k], best[0, :k] = _top_of_row(scores[0], k)
        return ids, best
    if k < width:
        cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        _lowest_at_the_cut(scores, cand, k)
    else:
        cand = np.broadcast_to(np.arange(width), (m, width))
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((cand, -cand_scores), axis=-1)
    cand = np.take_along_axis(cand, order, axis=1)
    cand_scores = np.take_along_axis(cand_scores, order, axis=1)
    valid = np.isfinite(cand_scores)
    ids[:, :k] = np.where(valid, cand, PAD_ID)
    best[:, :k] = np.where(valid, cand_scores, PAD_SCORE)
    return ids, best


def _lowest_at_the_cut(scores: np.ndarray, cand: np.ndarray, k: int) -> None:
    """Where scores tie across the cut, keep the lowest columns (argpartition keeps arbitrary
    ones): then the best n are the first n of the best k > n, which answers stored longer
    and cut at serving rely on (matching/precomputed.py)."""
    kth = np.take_along_axis(scores, cand, axis=1).min(axis=1)
    tied = np.isfinite(kth) & ((scores >= kth[:, None]).sum(axis=1) > k)
    for row in np.flatnonzero(tied).tolist():
        above = np.flatnonzero(scores[row] > kth[row])
        at = np.flatnonzero(scores[row] == kth[row])[: k - len(above)]
        cand[row] = np.concatenate([above, at])


def _top_of_row(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top_n's best k of one row, the same steps on a 1-d row: take_along_axis builds index
    grids per call, which cost more than the row's few hundred scores (issue 16)."""
    if k < len(row):
        cand = np.argpartition(-row, k - 1)[:k]
        kth = row[cand].min()
        if np.isfinite(kth) and np.count_nonzero(row >= kth) > k:  # _lowest_at_the_cut
            above = np.flatnonzero(row > kth)
            cand = np.concatenate([above, np.flatnonzero(row == kth)[: k - len(above)]])
    else:
        cand = np.arange(len(row))
    cand_scores = row[cand]
    order = np.lexsort((cand, -cand_scores))
    cand, cand_scores = cand[order], cand_scores[order]
    valid = np.isfinite(cand_scores)
    return np.where(valid, cand, PAD_ID), np.where(valid, cand_scores, PAD_SCORE)


def chunks(n_rows: int, width: int) -> Iterator[slice]:
    step = max(1, _CHUNK_CELLS // max(width, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def mask_rows(scores: np.ndarray, mask: sp.csr_matrix) -> None:
    """Set scores[r, c] = -inf wherever mask has an entry (mask rows align with scores rows)."""
    rows, cols = mask.nonzero()
    scores[rows, cols] = PAD_SCORE


def allowed_mask(allowed: np.ndarray | None, width: int) -> np.ndarray | None:
    if allowed is None:
        return None
    mask = np.zeros(width, dtype=bool)
    rows = np.asarray(allowed, dtype=np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= width):
        rows = rows[(rows >= 0) & (rows < width)]  # only when needed: a sixth of the cost
    mask[rows] = True  # of a filter that lists nearly all items (the live ones, per call)
    return mask


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class Recommender(ABC):
    """fit once, then answer in rows. Subclasses say how they fit and how they score."""

    n_users: int = 0
    n_items: int = 0

    @abstractmethod
    def fit(self, data: TrainingData) -> Recommender: ...

    @abstractmethod
    def user_item_scores(self, user_rows: np.ndarray) -> np.ndarray:
        """(len(user_rows), n_items) float32 for valid rows."""

    @abstractmethod
    def item_item_scores(self, item_rows: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def user_user_scores(self, user_rows: np.ndarray) -> np.ndarray: ...

    def recommend(
        self,
        user_rows: np.ndarray,
        n: int,
        exclude: sp.csr_matrix | None = None,
        allowed_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """exclude: CSR whose row i lists the items to leave out for user_rows[i]."""
        user_rows = np.asarray(user_rows, dtype=np.int64).reshape(-1)
        if exclude is not None and exclude.shape[0] != len(user_rows):
            raise ValueError("exclude must have one row per requested user")
        allowed = allowed_mask(allowed_items, self.n_items)
        ids = np.full((len(user_rows), n), PAD_ID, dtype=np.int64)
        scores = np.full((len(user_rows), n), PAD_SCORE, dtype=np.float32)
        for part in chunks(len(user_rows), self.n_items):
            rows = user_rows[part]
            known = (rows >= 0) & (rows < self.n_users)
            block = np.full((len(rows), self.n_items), PAD_SCORE, dtype=np.float32)
            if known.any():
                block[known] = self.user_item_scores(rows[known])
            if exclude is not None:
                mask_rows(block, exclude[part])
            if allowed is not None:
                block[:, ~allowed] = PAD_SCORE
            ids[part], scores[part] = top_n(block, n)
        return ids, scores

    def similar_items(self, item_rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._similar(item_rows, n, self.n_items, self.item_item_scores)

    def similar_users(self, user_rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._similar(user_rows, n, self.n_users, self.user_user_scores)

    @staticmethod
    def _similar(
        rows: np.ndarray, n: int, width: int, score_fn: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        ids = np.full((len(rows), n), PAD_ID, dtype=np.int64)
        scores = np.full((len(rows), n), PAD_SCORE, dtype=np.float32)
        for part in chunks(len(rows), width):
            block_rows = rows[part]
            known = (block_rows >= 0) & (block_rows < width)
            block = np.full((len(block_rows), width), PAD_SCORE, dtype=np.float32)
            if known.any():
                block[known] = score_fn(block_rows[known])
                block[np.flatnonzero(known), block_rows[known]] = PAD_SCORE  # not itself
            ids[part], scores[part] = top_n(block, n)
        return ids, scores


class FactorRecommender(Recommender):
    """Scores are inner products; item-item and user-user similarity is cosine."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray

    def _set_vectors(self, user_vectors: np.ndarray, item_vectors: np.ndarray) -> None:
        self.user_vectors = np.ascontiguousarray(user_vectors, dtype=np.float32)
        self.item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.n_users, self.n_items = len(self.user_vectors), len(self.item_vectors)
        self._unit_items = unit_rows(self.item_vectors)
        self._unit_users = unit_rows(self.user_vectors)

    def user_item_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return self.user_vectors[user_rows] @ self.item_vectors.T

    def item_item_scores(self, item_rows: np.ndarray) -> np.ndarray:
        return self._unit_items[item_rows] @ self._unit_items.T

    def user_user_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return self._unit_users[user_rows] @ self._unit_users.T
