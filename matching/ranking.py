"""The ranking stage: rescoring the candidates FAISS retrieved from the joint vectors.

One pipeline, used by serving (TrainedModel.recommend) and by evaluation (the model search
and the gate): candidates -> features -> blend -> top n. Per (query, candidate) the features
are

* retrieval: the joint inner product FAISS ranked by (CF + tag parts together),
* cf / tag: its CF part (the ALS score) and its tag part (tag affinity), apart,
* item_item: the sum of item-to-item scores from the user's history to the candidate: EASE
  (Steck 2019, a dense item x item matrix) while the catalogue has at most
  RankingConfig.ease_max_items items, a sparse top-k cosine item-kNN (implicit's) beyond,
* popularity: log(1 + users who interacted), recency: log(1 + events in the last
  RankingConfig.recent_days before the newest event).

Each feature is standardised over one query's candidates (the blend then only has to order
candidates of one query, not compare scales between queries), and the blend is a weight vector
learned on the validation split by a logistic regression of "held out later" on the features;
if that blend does not beat plain retrieval order on validation nDCG, the weights fall back
to retrieval alone, so the stage can only help where it was measured to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender, normalize
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from matching.base import PAD_ID, PAD_SCORE, chunks, mask_rows, top_n
from matching.config import RankingConfig
from matching.data import EventLog
from matching.evaluate import ndcg_per_row

FEATURES = ("retrieval", "cf", "tag", "item_item", "popularity", "recency")
RETRIEVAL_ONLY = np.eye(len(FEATURES), dtype=np.float32)[0]
SECONDS_PER_DAY = 86_400.0


def fit_ease(interactions: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE's item x item weights B (zero diagonal) from binary interactions, float32."""
    binary = sp.csr_matrix(interactions, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    gram = (binary.T @ binary).toarray()
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


def fit_item_knn(interactions: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """Sparse cosine item x item similarity, `neighbours` per item, no self-similarity."""
    binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    binary.sort_indices()
    # CosineRecommender's own fit, with the normalised matrix handed over as CSR
    model = ItemItemRecommender(K=neighbours + 1, num_threads=1)
    model.fit(sp.csr_matrix(normalize(binary.T).T), show_progress=False)
    similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    similarity.sort_indices()
    return similarity


@dataclass(slots=True)
class RankingStage:
    """What the ranker needs at serving time; arrays saved in the artifact, memory-mapped."""

    item_item_dense: np.ndarray | None  # (n_items, n_items) EASE weights, or None
    item_item_sparse: sp.csr_matrix | None  # (n_items, n_items) item-kNN, or None
    popularity: np.ndarray  # (n_items,) float32 log(1 + interacting users)
    recency: np.ndarray  # (n_items,) float32 log(1 + recent events)
    weights: np.ndarray  # (len(FEATURES),) float32 blend

    @classmethod
    def fit(
        cls,
        interactions: sp.csr_matrix,
        events: EventLog,
        config: RankingConfig,
        weights: np.ndarray | None = None,
    ) -> RankingStage:
        """Item-to-item model and item features from the training interactions; weights
        come later (learn_weights) or are given (a procedure whose blend was learned)."""
        n_items = interactions.shape[1]
        binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        dense = sparse = None
        with threadpool_limits(1, "blas"):
            if n_items <= config.ease_max_items:
                dense = fit_ease(binary, config.ease_lambda)
            else:
                sparse = fit_item_knn(binary, config.knn_neighbours)
        users_per_item = np.bincount(binary.indices, minlength=n_items)
        recent = np.zeros(n_items, np.float64)
        if len(events):
            newest = float(events.ts.max())
            late = events.ts >= newest - config.recent_days * SECONDS_PER_DAY
            recent = np.bincount(events.item[late], minlength=n_items).astype(np.float64)
        return cls(
            item_item_dense=dense,
            item_item_sparse=sparse,
            popularity=np.log1p(users_per_item).astype(np.float32),
            recency=np.log1p(recent).astype(np.float32),
            weights=(RETRIEVAL_ONLY if weights is None else weights).astype(np.float32),
        )

    def item_item(self, history: sp.csr_matrix, candidates: np.ndarray) -> np.ndarray:
        """(m, C): sum over each row's history items of their item-item score to a candidate."""
        m, width = candidates.shape
        safe = np.maximum(candidates, 0)
        history = sp.csr_matrix(history, dtype=np.float32)
        if self.item_item_dense is not None:
            out = np.zeros((m, width), np.float32)
            dense = self.item_item_dense
            for row in range(m):
                seen = history.indices[history.indptr[row] : history.indptr[row + 1]]
                if len(seen):
                    out[row] = np.asarray(dense[seen][:, safe[row]]).sum(axis=0)
            return out
        assert self.item_item_sparse is not None
        reached = sp.csr_matrix(history @ self.item_item_sparse)
        rows = np.repeat(np.arange(m), width)
        return np.asarray(reached[rows, safe.ravel()], dtype=np.float32).reshape(m, width)

    def features(
        self,
        retrieval: np.ndarray,
        cf: np.ndarray,
        tag: np.ndarray,
        history: sp.csr_matrix,
        candidates: np.ndarray,
    ) -> np.ndarray:
        """(m, C, len(FEATURES)), each standardised over a row's valid candidates."""
        safe = np.maximum(candidates, 0)
        raw = np.stack(
            [
                retrieval,
                cf,
                tag,
                self.item_item(history, candidates),
                np.asarray(self.popularity)[safe],
                np.asarray(self.recency)[safe],
            ],
            axis=-1,
        ).astype(np.float64)
        valid = (candidates != PAD_ID)[..., None]
        count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
        mean = np.where(valid, raw, 0.0).sum(axis=1, keepdims=True) / count
        centred = np.where(valid, raw - mean, 0.0)
        std = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
        return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-12)

    def rank(
        self,
        features: np.ndarray,
        candidates: np.ndarray,
        n: int,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top n candidates per row by the blend: (rows, scores), padded like top_n."""
        blend = features @ (self.weights if weights is None else weights).astype(np.float64)
        scores = np.where(candidates != PAD_ID, blend, PAD_SCORE).astype(np.float32)
        order, best = top_n(scores, n)
        rows = np.where(
            order >= 0, np.take_along_axis(candidates, np.maximum(order, 0), axis=1), PAD_ID
        )
        return rows, best


def split_scores(
    queries: np.ndarray, candidate_vectors: np.ndarray, n_factors: int
) -> tuple[np.ndarray, np.ndarray]:
    """(cf, tag) parts of the joint inner products; candidate_vectors is (m, C, dim)."""
    queries = np.asarray(queries, dtype=np.float32)
    cf = np.einsum("mcd,md->mc", candidate_vectors[..., :n_factors], queries[:, :n_factors])
    tag = np.einsum("mcd,md->mc", candidate_vectors[..., n_factors:], queries[:, n_factors:])
    return cf, tag


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


def rank_batch(
    stage: RankingStage | None,
    queries: np.ndarray,
    item_vectors: np.ndarray,
    n_factors: int,
    history: sp.csr_matrix,
    candidates: np.ndarray,
    retrieval: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The ranking stage over retrieved candidates (rows aligned with queries); without a
    stage, retrieval order."""
    if stage is None:
        return candidates[:, :n], retrieval[:, :n]
    vectors = np.asarray(item_vectors)[np.maximum(candidates, 0)]
    cf, tag = split_scores(queries, vectors, n_factors)
    features = stage.features(retrieval, cf, tag, history, candidates)
    return stage.rank(features, candidates, n)


def learn_weights(
    stage: RankingStage,
    features: np.ndarray,
    candidates: np.ndarray,
    truth: sp.csr_matrix,
    k: int,
    seed: int = 0,
) -> tuple[np.ndarray, float, float]:
    """(weights, validation nDCG@k with them, with retrieval order alone).

    truth: (m, n_items) held-out interactions of the same rows. A logistic regression of
    "candidate is in the truth" on the standardised features gives the blend; it is kept
    only when its validation nDCG beats retrieval order.
    """
    truth = sp.csr_matrix(truth)
    labels = _labels(candidates, truth)
    plain = float(
        ndcg_per_row(stage.rank(features, candidates, k, RETRIEVAL_ONLY)[0], truth).mean()
    )
    useful = labels.any(axis=1) & (~labels | (candidates == PAD_ID)).any(axis=1)
    valid = (candidates != PAD_ID) & useful[:, None]
    if not labels[valid].any() or labels[valid].all():
        return RETRIEVAL_ONLY.copy(), plain, plain
    classifier = LogisticRegression(C=1.0, max_iter=500, random_state=seed)
    classifier.fit(features[valid], labels[valid])
    learned = classifier.coef_.ravel().astype(np.float32)
    blended = float(ndcg_per_row(stage.rank(features, candidates, k, learned)[0], truth).mean())
    if blended > plain:
        return learned, blended, plain
    return RETRIEVAL_ONLY.copy(), plain, plain


def _labels(candidates: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    m, width = candidates.shape
    rows = np.repeat(np.arange(m), width)
    found = np.asarray(truth[rows, np.maximum(candidates, 0).ravel()]).reshape(m, width) != 0
    return found & (candidates != PAD_ID)
