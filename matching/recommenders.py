"""The models compared in the benchmark, all behind matching.base.Recommender.

MostPopular, RawALS and RawBPR are reference points with implicit's library defaults on binary
interactions; ImplicitALS is implicit's ALS with given settings (the benchmark searches them
with the same budget tagmatch gets), EASE and ItemKNN the item-to-item baselines (the same
code as the ranking stage's item-to-item part); TagOnly and Hybrid are tagmatch's
tag-embedding ablation and its factor model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from matching.als import fit_als
from matching.base import FactorRecommender, Recommender, TrainingData
from matching.config import ALSConfig, HybridConfig
from matching.hybrid import HybridSpace, build_hybrid, fit_tag_components
from matching.item_item import fit_ease, fit_item_knn


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


def _require_tags(data: TrainingData) -> None:
    if data.tagspace is None:
        raise ValueError("this model needs a tag space in its training data")


class MostPopular(Recommender):
    """Everyone gets the items with the most interacting users; similar = most popular too."""

    def fit(self, data: TrainingData) -> MostPopular:
        self.n_users, self.n_items = data.n_users, data.n_items
        binary = _binary(data.interactions)
        self.popularity = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        self.activity = np.asarray(binary.sum(axis=1), dtype=np.float32).ravel()
        return self

    def user_item_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(user_rows), self.n_items)).copy()

    def item_item_scores(self, item_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(item_rows), self.n_items)).copy()

    def user_user_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.activity, (len(user_rows), self.n_users)).copy()


class RawALS(FactorRecommender):
    """implicit's AlternatingLeastSquares with its defaults, on binary interactions."""

    def __init__(self, random_state: int = 42) -> None:
        self.random_state = random_state

    def fit(self, data: TrainingData) -> RawALS:
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(random_state=self.random_state)
            model.fit(_binary(data.interactions), show_progress=False)
        self._set_vectors(model.user_factors, model.item_factors)
        return self


class ImplicitALS(FactorRecommender):
    """implicit's AlternatingLeastSquares on binary interactions, with given settings."""

    def __init__(
        self,
        factors: int = 100,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        random_state: int = 42,
    ) -> None:
        self.settings = {
            "factors": factors,
            "regularization": regularization,
            "alpha": alpha,
            "iterations": iterations,
        }
        self.random_state = random_state

    def fit(self, data: TrainingData) -> ImplicitALS:
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                **self.settings, random_state=self.random_state, dtype=np.float32
            )
            model.fit(_binary(data.interactions), show_progress=False)
        self._set_vectors(model.user_factors, model.item_factors)
        return self


class _ItemToItem(Recommender):
    """Scores = binary history @ an item x item matrix (dense or sparse)."""

    weights: np.ndarray | sp.csr_matrix

    def _fit_history(self, data: TrainingData) -> sp.csr_matrix:
        self.n_users, self.n_items = data.n_users, data.n_items
        self.history = _binary(data.interactions)
        return self.history

    def user_item_scores(self, user_rows: np.ndarray) -> np.ndarray:
        scores = self.history[user_rows] @ self.weights
        return np.asarray(scores.toarray() if sp.issparse(scores) else scores, np.float32)

    def item_item_scores(self, item_rows: np.ndarray) -> np.ndarray:
        rows = self.weights[item_rows]
        return np.asarray(rows.toarray() if sp.issparse(rows) else rows, np.float32)

    def user_user_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.history[user_rows] @ self.history.T).toarray(), np.float32)


class EASE(_ItemToItem):
    """Steck's EASE (2019): closed-form item x item regression with L2 penalty `lam`."""

    def __init__(self, lam: float = 500.0) -> None:
        self.lam = lam

    def fit(self, data: TrainingData) -> EASE:
        self.weights = fit_ease(self._fit_history(data), self.lam)
        return self


class ItemKNN(_ItemToItem):
    """Cosine item-kNN (implicit's), `neighbours` per item."""

    def __init__(self, neighbours: int = 100) -> None:
        self.neighbours = neighbours

    def fit(self, data: TrainingData) -> ItemKNN:
        self.weights = fit_item_knn(self._fit_history(data), self.neighbours)
        return self


class RawBPR(FactorRecommender):
    """implicit's BayesianPersonalizedRanking with its defaults (its factors carry item bias).

    One thread: BPR's parallel SGD is lock-free, so more threads would make runs differ.
    """

    def __init__(self, random_state: int = 42) -> None:
        self.random_state = random_state

    def fit(self, data: TrainingData) -> RawBPR:
        model = BayesianPersonalizedRanking(random_state=self.random_state, num_threads=1)
        model.fit(_binary(data.interactions), show_progress=False)
        self._set_vectors(model.user_factors, model.item_factors)
        return self


class TagOnly(FactorRecommender):
    """Cosine between user and item tag embeddings: the tag half of the hybrid on its own."""

    def __init__(self, config: HybridConfig | None = None) -> None:
        self.config = config or HybridConfig()

    def fit(self, data: TrainingData) -> TagOnly:
        _require_tags(data)
        assert data.tagspace is not None
        users = sp.csr_matrix(data.tagspace.user_matrix())
        items = sp.csr_matrix(data.tagspace.item_tags)
        components = fit_tag_components(items, users, self.config.tag_dim)
        self._set_vectors(users @ components, items @ components)
        self.user_vectors = self._unit_users
        self.item_vectors = self._unit_items
        return self


class Hybrid(FactorRecommender):
    """tagmatch's model: ALS on confidence plus the tag embedding, joint vectors (hybrid.py)."""

    space: HybridSpace

    def __init__(self, als: ALSConfig | None = None, hybrid: HybridConfig | None = None) -> None:
        self.als = als or ALSConfig()
        self.hybrid = hybrid or HybridConfig()

    def fit(self, data: TrainingData) -> Hybrid:
        _require_tags(data)
        assert data.tagspace is not None
        if self.als.backend == "spark":
            # Imported here: pyspark (the spark extra) is only needed by who selects it.
            from matching.spark_als import fit_als_spark

            user_factors, item_factors = fit_als_spark(data.interactions, self.als)
        else:
            user_factors, item_factors = fit_als(data.interactions, self.als)
        self.user_factors, self.item_factors = user_factors, item_factors
        self.space, users, items = build_hybrid(
            user_factors, item_factors, data.interactions, data.tagspace, self.hybrid
        )
        self._set_vectors(users, items)
        return self
