"""The ranking stage: candidates -> features -> learned ranker -> top n.

One pipeline, used by serving (TrainedModel.recommend) and by evaluation (the model search and
the gate), for a user with history:

* candidates: FAISS's top RankingConfig.candidates items by the joint inner product, and the
  top RankingConfig.item_item_candidates items by the item-to-item score (a second source: the
  joint vectors alone miss items an item-to-item model ranks high), same exclusions and filter;
* features per (query, candidate), FEATURES: the joint score and its CF (ALS) and tag parts,
  the item-to-item score — EASE (Steck 2019, a dense item x item matrix) while the catalogue
  has at most RankingConfig.ease_max_items items, sparse top-k cosine item-kNN beyond —,
  both scores' ranks within the query's candidates, item popularity, recent activity, age,
  the user's history length, and the sequence-neighbour score (matching/sequence.py) summed
  over the whole history and over its newest RankingConfig.sequence_recent items (histories
  come newest first for this);
* the ranker: a LightGBM lambdarank model learned on the validation split carved from the
  training part (matching/ranking_fit.py), or, where it did not beat a single feature's order
  or the blend of the joint and item-to-item scores on held-out validation users, that order
  (a linear weight vector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import lightgbm
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from matching.base import PAD_ID, PAD_SCORE, chunks, mask_rows, top_n
from matching.config import RankingConfig
from matching.data import SECONDS_PER_DAY, EventLog
from matching.evaluate import ndcg_per_row
from matching.item_item import fit_ease, fit_item_knn
from matching.sequence import fit_sequence, sums_at
from matching.sparse_rows import SparseRows, lookup, member, summed_rows, valid_rows

FEATURES = (
    "retrieval",
    "retrieval_rank",
    "cf",
    "tag",
    "item_item",
    "item_item_rank",
    "item_item_share",
    "popularity",
    "recency",
    "recent_share",
    "age",
    "history",
    # appended, not inserted: a ranker saved before them reads the leading columns only
    "sequence",
    "sequence_recent",
)
RETRIEVAL_ONLY = np.eye(len(FEATURES), dtype=np.float32)[FEATURES.index("retrieval")]
ITEM_ITEM_ONLY = np.eye(len(FEATURES), dtype=np.float32)[FEATURES.index("item_item")]


@dataclass(slots=True)
class Ranker:
    """Scores candidates from their features: a LightGBM model, or a linear weight vector
    (one feature's order, or a blend of the joint and item-to-item scores) where the model did
    not earn its place on validation."""

    weights: np.ndarray  # (len(FEATURES),) float32, used when model is None
    model: lightgbm.Booster | None = None
    trees: int = 0  # the model's first trees only (while comparing counts); 0 = all

    def score(self, features: np.ndarray) -> np.ndarray:
        """(m, C) scores of (m, C, len(FEATURES)) features."""
        m, width, _ = features.shape
        if self.model is None:
            return np.asarray(features @ self.weights.astype(np.float64))
        # a model learned before features were appended knows only the leading ones
        flat = features[..., : self.model.num_feature()].reshape(m * width, -1)
        # one thread: serving runs many requests at once, and OpenMP start-up costs more
        # than a few hundred rows take
        scores = self.model.predict(flat, num_iteration=self.trees or None, num_threads=1)
        return np.asarray(scores).reshape(m, width)

    def to_bytes(self) -> np.ndarray:
        # never empty: a zero-length array cannot be memory-mapped when the artifact loads
        text = " " if self.model is None else self.model.model_to_string()
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    @classmethod
    def from_arrays(cls, weights: np.ndarray, model: np.ndarray) -> Ranker:
        text = bytes(np.asarray(model, dtype=np.uint8)).decode("utf-8").strip()
        booster = lightgbm.Booster(model_str=text) if text else None
        padded = np.zeros(len(FEATURES), np.float32)  # saved before features were appended
        padded[: len(weights)] = weights
        return cls(padded, booster)


@dataclass(slots=True)
class RankingStage:
    """What the ranker needs at serving time; arrays saved in the artifact, memory-mapped."""

    item_item_dense: np.ndarray | None  # (n_items, n_items) EASE weights, or None
    item_item_sparse: sp.csr_matrix | None  # (n_items, n_items) item-kNN, or None
    sequence: sp.csr_matrix | None  # (n_items, n_items) sequence neighbours, or None (off)
    # item features as shares, so that they keep their scale as the data grows:
    popularity: np.ndarray  # (n_items,) float32 log((1 + its users) / (1 + active users))
    recency: np.ndarray  # (n_items,) float32 log((1 + its recent events) / (1 + all recent))
    age: np.ndarray  # (n_items,) float32 log(1 + days from its first event to the newest)
    ranker: Ranker
    item_item_candidates: int = 0  # the second candidate source's width
    sequence_recent: int = 0  # newest history items of the "doing now" sequence score
    activity: float = 0.0  # mean log(1 + history length) of users with history

    @classmethod
    def fit(
        cls,
        interactions: sp.csr_matrix,
        events: EventLog,
        config: RankingConfig,
        ranker: Ranker | None = None,
    ) -> RankingStage:
        """Item-to-item model and item features from the training interactions; the ranker
        comes later (ranking_fit.learn_ranker) or is given (a procedure already learned)."""
        n_items = interactions.shape[1]
        binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        dense = sparse = None
        with threadpool_limits(1, "blas"):
            if n_items <= config.ease_max_items:
                dense = fit_ease(binary, config.ease_lambda)
            else:
                sparse = fit_item_knn(binary, config.knn_neighbours)
        sequence = None
        if config.sequence_window and len(events):
            sequence = fit_sequence(events, n_items, config.sequence_window, config.knn_neighbours)
        users_per_item = np.bincount(binary.indices, minlength=n_items)
        recent = np.zeros(n_items, np.float64)
        age = np.zeros(n_items, np.float64)
        if len(events):
            newest = float(events.ts.max())
            late = events.ts >= newest - config.recent_days * SECONDS_PER_DAY
            recent = np.bincount(events.item[late], minlength=n_items).astype(np.float64)
            first = np.full(n_items, newest)
            np.minimum.at(first, events.item, events.ts)
            age = np.maximum(newest - first, 0.0) / SECONDS_PER_DAY
        lengths = np.diff(binary.indptr)
        active = lengths[lengths > 0]
        return cls(
            item_item_dense=dense,
            item_item_sparse=sparse,
            sequence=sequence,
            popularity=np.log((1.0 + users_per_item) / (1.0 + len(active))).astype(np.float32),
            recency=np.log((1.0 + recent) / (1.0 + recent.sum())).astype(np.float32),
            age=np.log1p(age).astype(np.float32),
            ranker=ranker or Ranker(RETRIEVAL_ONLY.copy()),
            item_item_candidates=config.item_item_candidates,
            sequence_recent=config.sequence_recent,
            activity=float(np.log1p(active).mean()) if len(active) else 0.0,
        )

    def item_item_scores(self, history: list[np.ndarray]) -> np.ndarray | SparseRows:
        """(m, n_items): per query, the sum of its history items' item-item scores; dense for
        EASE (a gather of the history's rows, no full product), sparse rows (only the items
        some history item reaches) for item-kNN: the product of the 0/1 history matrix with
        the item-kNN matrix as scipy computed it, entry order included, which item_item_top's
        tie-breaking sees (summed_rows)."""
        if self.item_item_dense is not None:
            dense = self.item_item_dense
            out = np.zeros((len(history), dense.shape[1]), np.float32)
            for row, seen in enumerate(history):
                if len(seen):
                    out[row] = dense[seen].sum(axis=0, dtype=np.float32)
            return out
        assert self.item_item_sparse is not None
        n_items = self.item_item_sparse.shape[0]
        return summed_rows(self.item_item_sparse, [valid_rows(h, n_items) for h in history])

    def item_item_top(
        self,
        scores: np.ndarray | SparseRows,
        excluded: list[np.ndarray],
        allowed: np.ndarray | None,
        count: int,
    ) -> np.ndarray:
        """(m, count) rows of the best item-item scores per query, its excluded rows left out
        and only allowed ones (bool mask over items, or None for all); PAD_ID padded."""
        if isinstance(scores, np.ndarray):
            n_items = scores.shape[1]
        else:
            assert self.item_item_sparse is not None
            n_items = self.item_item_sparse.shape[1]
        excluded = [valid_rows(rows, n_items) for rows in excluded]
        if isinstance(scores, np.ndarray):
            masked = scores.copy()
            for row, rows in enumerate(excluded):
                masked[row, rows] = PAD_SCORE
            if allowed is not None:
                masked[:, ~allowed] = PAD_SCORE
            return top_n(masked, count)[0]
        out = np.full((len(scores), count), PAD_ID, np.int64)
        for row, rows in enumerate(excluded):
            cols, vals = scores.row(row)
            keep = ~member(cols, rows)
            if allowed is not None:
                keep &= allowed[cols]
            reached = cols[keep]
            if len(reached) == 0:  # the history reaches nothing eligible: padding only
                continue
            ids, _ = top_n(vals[keep][None, :].astype(np.float32), count)
            out[row] = np.where(ids[0] >= 0, reached[np.maximum(ids[0], 0)], PAD_ID)
        return out

    def features(
        self,
        queries: np.ndarray,
        item_vectors: np.ndarray,
        n_factors: int,
        item_scores: np.ndarray | SparseRows,
        history: list[np.ndarray],
        candidates: np.ndarray,
    ) -> np.ndarray:
        """(m, C, len(FEATURES)) float64; padded candidates get zeros."""
        m, width = candidates.shape
        safe = np.maximum(candidates, 0)
        valid = candidates != PAD_ID
        cf, tag = split_scores(queries, np.asarray(item_vectors)[safe], n_factors)
        joint = cf + tag
        if isinstance(item_scores, np.ndarray):
            item_item = np.take_along_axis(item_scores, safe, axis=1)
        else:
            item_item = np.zeros((m, width), item_scores.data.dtype)
            for row in range(m):
                item_item[row] = lookup(*item_scores.row(row), safe[row])
        scale = np.abs(np.where(valid, item_item, 0.0)).max(axis=1, keepdims=True)
        popularity = np.asarray(self.popularity)[safe]
        recency = np.asarray(self.recency)[safe]
        history_size = np.log1p(np.array([len(h) for h in history], np.float64)) - self.activity
        # Scores enter standardised within the query and as ranks: the ranker learns on
        # models fitted on less data than the served one, whose scores have other scales.
        count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
        raw = np.stack(
            [
                _standardised(joint, valid, count),
                _ranks(joint, valid),
                _standardised(cf, valid, count),
                _standardised(tag, valid, count),
                _standardised(item_item, valid, count),
                _ranks(item_item, valid),
                np.divide(item_item, scale, out=np.zeros((m, width)), where=scale > 0),
                popularity,
                recency,
                recency - popularity,
                np.asarray(self.age)[safe],
                np.broadcast_to(history_size[:, None], (m, width)),
                _standardised(self.sequence_scores(history, safe), valid, count),
                _standardised(
                    self.sequence_scores([h[: self.sequence_recent] for h in history], safe),
                    valid,
                    count,
                ),
            ],
            axis=-1,
        ).astype(np.float64, copy=False)  # float64 already: joint's parts are
        raw[~valid] = 0.0
        return raw

    def sequence_scores(self, history: list[np.ndarray], candidates: np.ndarray) -> np.ndarray:
        """(m, C) per query, the sum of its history items' sequence-neighbour weights at each
        candidate row (zeros without a sequence model)."""
        if self.sequence is None:
            return np.zeros(candidates.shape, np.float64)
        return sums_at(self.sequence, history, candidates)

    def rank(
        self, features: np.ndarray, candidates: np.ndarray, n: int, ranker: Ranker | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top n candidates per row by the ranker: (rows, scores), padded like top_n."""
        scored = (ranker or self.ranker).score(features)
        scores = np.where(candidates != PAD_ID, scored, PAD_SCORE).astype(np.float32)
        order, best = top_n(scores, n)
        picked = candidates[np.arange(len(candidates))[:, None], np.maximum(order, 0)]
        return np.where(order >= 0, picked, PAD_ID), best


def _standardised(scores: np.ndarray, valid: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Each row's valid scores minus their mean over their standard deviation; count: (m, 1)
    int, each row's valid candidates (at least 1)."""
    mean = np.where(valid, scores, 0.0).sum(axis=1, keepdims=True) / count
    centred = np.where(valid, scores - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-12)


def _ranks(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """0 for each row's best valid candidate, 1 for the next, ...; padding ranks last."""
    order = np.argsort(np.where(valid, -scores, np.inf), axis=1, kind="stable")
    ranks = np.empty(order.shape, np.float64)
    ranks[np.arange(len(order))[:, None], order] = np.arange(scores.shape[1])
    return ranks


def split_scores(
    queries: np.ndarray, candidate_vectors: np.ndarray, n_factors: int
) -> tuple[np.ndarray, np.ndarray]:
    """(cf, tag) parts of the joint inner products; candidate_vectors is (m, C, dim)."""
    queries = np.asarray(queries, dtype=np.float32)
    cf = np.einsum("mcd,md->mc", candidate_vectors[..., :n_factors], queries[:, :n_factors])
    tag = np.einsum("mcd,md->mc", candidate_vectors[..., n_factors:], queries[:, n_factors:])
    return cf.astype(np.float64), tag.astype(np.float64)


def retrieve_exact(
    queries: np.ndarray, item_vectors: np.ndarray, exclude: sp.csr_matrix, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Batch retrieval by exact inner product (what the flat FAISS index returns), with
    exclude's row i left out for query i: (candidates, scores) (m, count). Scored in chunks
    of rows: 10k queries over 100k items would be a 4 GB score matrix at once."""
    queries = np.asarray(queries, np.float32)
    items = np.asarray(item_vectors, np.float32)
    exclude = sp.csr_matrix(exclude)
    ids = np.full((len(queries), count), PAD_ID, np.int64)
    scores = np.full((len(queries), count), PAD_SCORE, np.float32)
    for part in chunks(len(queries), len(items)):
        block = queries[part] @ items.T
        mask_rows(block, exclude[part])
        ids[part], scores[part] = top_n(block, count)
    return ids, scores


def merge_candidates(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, first's rows then second's rows not already there; PAD_ID padding at the end."""
    if second.shape[1] == 0:
        return first
    m = first.shape[0]
    out = np.full((m, first.shape[1] + second.shape[1]), PAD_ID, np.int64)
    for row in range(m):
        a = first[row][first[row] != PAD_ID]
        b = second[row][second[row] != PAD_ID]
        b = b[~member(b, a)]
        out[row, : len(a)] = a
        out[row, len(a) : len(a) + len(b)] = b
    return out


RowSets: TypeAlias = list[np.ndarray] | sp.csr_matrix  # per query, a set of item rows


def row_sets(rows: RowSets) -> list[np.ndarray]:
    """Per query, its item rows as an int64 array."""
    if isinstance(rows, list):
        return [np.asarray(r, np.int64) for r in rows]
    matrix = sp.csr_matrix(rows)
    return np.split(matrix.indices.astype(np.int64), matrix.indptr[1:-1])


@dataclass(slots=True)
class Candidates:
    """One batch through the stage's first two steps: what the ranker scores."""

    rows: np.ndarray  # (m, C) item rows, PAD_ID padded
    features: np.ndarray  # (m, C, len(FEATURES))


def gather(
    stage: RankingStage,
    queries: np.ndarray,
    item_vectors: np.ndarray,
    n_factors: int,
    history: RowSets,
    retrieved: np.ndarray,
    excluded: RowSets | None = None,
    allowed: np.ndarray | None = None,
) -> Candidates:
    """Candidates (retrieved ones, then the item-item source's) and their features.
    history / excluded: per query, its history's item rows, newest first (the "doing now"
    sequence score reads the first few), and the rows the item-item source must leave out
    (default: the history); as lists of arrays or the rows of a CSR
    matrix. allowed: bool mask over items, or None."""
    history = row_sets(history)
    item_scores = stage.item_item_scores(history)
    extra = stage.item_item_top(
        item_scores,
        history if excluded is None else row_sets(excluded),
        allowed,
        stage.item_item_candidates,
    )
    rows = merge_candidates(retrieved, extra)
    queries = np.atleast_2d(np.asarray(queries, np.float32))
    features = stage.features(queries, item_vectors, n_factors, item_scores, history, rows)
    return Candidates(rows, features)


def rank_batch(
    stage: RankingStage | None,
    queries: np.ndarray,
    item_vectors: np.ndarray,
    n_factors: int,
    history: RowSets,
    candidates: np.ndarray,
    retrieval: np.ndarray,
    n: int,
    excluded: RowSets | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ranking stage over retrieved candidates (rows aligned with queries); without a
    stage, retrieval order."""
    if stage is None:
        return candidates[:, :n], retrieval[:, :n]
    found = gather(stage, queries, item_vectors, n_factors, history, candidates, excluded, allowed)
    return stage.rank(found.features, found.rows, n)


def ndcg_of(
    stage: RankingStage, found: Candidates, truth: sp.csr_matrix, k: int, ranker: Ranker
) -> float:
    """Mean nDCG@k over truth's rows of the ranker's order of the candidates."""
    return float(ndcg_per_row(stage.rank(found.features, found.rows, k, ranker)[0], truth).mean())
