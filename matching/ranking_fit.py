"""Learning the ranking stage's ranker on validation data (never the gate's test part).

Examples come from validation folds carved from the training part: fold 0 is the search's own
validation split, and each further fold carves the same way from the previous fold's fitting
part (an older slice for the time-based splits), with its own model fits, so the ranker sees
several times the users the search's split alone holds. A seeded quarter of fold 0's users
is held out of every fold: a LightGBM lambdarank model (one thread, deterministic) learns on
the rest, and is compared on those users' rows of every fold — by the nDCG@k the search uses,
against each user's whole validation truth, so candidates recall counts — at several tree
counts, with the order of the joint score alone, of the item-to-item score alone, and of a
blend of the two (both standardised within the query; the item-to-item weight chosen on the
learning users). The best is kept; a learned model must beat the others, and is refitted on
every user with the tree count the held-out users preferred.

Why the blend: on a random split of ml-100k the two scores are about as good as each other and
a LightGBM model over every feature does no better than their weighted sum (validation nDCG@10
of the held-out users, BENCHMARKS.md), while on time-based splits the learned model adds far
more. The blend costs one dot product per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm
import numpy as np
import scipy.sparse as sp

from matching.base import PAD_ID
from matching.config import RankingConfig
from matching.ranking import (
    FEATURES,
    ITEM_ITEM_ONLY,
    RETRIEVAL_ONLY,
    Candidates,
    Ranker,
    RankingStage,
    ndcg_of,
)

CHECK_SHARE = 0.25
BLEND_WEIGHTS = (0.25, 0.5, 1.0, 2.0)  # the item-to-item score's weight beside the joint score's


@dataclass(slots=True)
class LearnedRanker:
    ranker: Ranker
    chosen: str  # "lambdarank", "retrieval", "item_item" or "blend"
    check_ndcg: dict[str, float] = field(default_factory=dict)  # held-out validation users
    trees: int = 0

    def summary(self) -> dict[str, Any]:
        """What the model search stores: the choice, the held-out comparison, and what the
        ranker leans on (each feature's share of the model's gain, or the one-hot weights)."""
        if self.ranker.model is not None:
            gain = np.asarray(self.ranker.model.feature_importance("gain"), np.float64)
            weights = gain / gain.sum() if gain.sum() > 0 else gain
        else:
            weights = self.ranker.weights
        return {
            "ranker": self.chosen,
            "trees": self.trees,
            "check_ndcg": {name: round(value, 5) for name, value in self.check_ndcg.items()},
            "weights": dict(zip(FEATURES, map(float, weights), strict=True)),
        }


def labels_of(rows: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """(m, C) bool: candidate is among its row's validation items."""
    m, width = rows.shape
    flat = np.repeat(np.arange(m), width)
    found = np.asarray(truth[flat, np.maximum(rows, 0).ravel()]).reshape(m, width) != 0
    return found & (rows != PAD_ID)


@dataclass(slots=True)
class Fold:
    """One validation carve: its users' candidates (with features) and validation truth."""

    users: np.ndarray  # (m,) user rows
    found: Candidates  # rows aligned with users
    truth: sp.csr_matrix  # (m, n_items)
    labels: np.ndarray = field(init=False)  # (m, C) bool: candidate is in the truth

    def __post_init__(self) -> None:
        self.truth = sp.csr_matrix(self.truth)
        self.labels = labels_of(self.found.rows, self.truth)


def _dataset(folds: list[tuple[Fold, np.ndarray]]) -> lightgbm.Dataset | None:
    """The chosen rows of each fold, one LightGBM query per user; only users with a positive
    among their candidates teach a ranking."""
    features, labels, groups = [], [], []
    for fold, rows in folds:
        marks = fold.labels[rows]
        rows = rows[marks.any(axis=1)]
        valid = fold.found.rows[rows] != PAD_ID
        features.append(fold.found.features[rows][valid])
        labels.append(fold.labels[rows][valid].astype(np.int32))
        groups.append(valid.sum(axis=1))
    if sum(len(g) for g in groups) == 0:
        return None
    return lightgbm.Dataset(
        np.concatenate(features), label=np.concatenate(labels), group=np.concatenate(groups)
    )


def _fit(
    folds: list[tuple[Fold, np.ndarray]], config: RankingConfig, k: int, seed: int, trees: int
) -> lightgbm.Booster | None:
    data = _dataset(folds)
    if data is None:
        return None
    params = {
        "objective": "lambdarank",
        "lambdarank_truncation_level": 2 * k,
        "learning_rate": config.ranker_learning_rate,
        "num_leaves": config.ranker_leaves,
        "min_data_in_leaf": 500,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "verbosity": -1,
    }
    return lightgbm.train(params, data, num_boost_round=trees)


def learn_ranker(
    stage: RankingStage, folds: list[Fold], config: RankingConfig, k: int, seed: int = 0
) -> LearnedRanker:
    """The ranker for `stage` from validation folds, fold 0 the search's own (module
    docstring)."""
    singles = {
        "retrieval": Ranker(RETRIEVAL_ONLY.copy()),
        "item_item": Ranker(ITEM_ITEM_ONLY.copy()),
    }
    first = folds[0]
    m = len(first.users)
    order = np.random.default_rng(seed).permutation(m)
    n_check = round(m * CHECK_SHARE)
    if n_check == 0 or n_check == m:
        return LearnedRanker(singles["retrieval"], "retrieval")
    held_users = first.users[np.sort(order[:n_check])]
    # the held-out users' rows of every fold: more (older) evidence for the same decision
    held, held_truth = _pooled([(f, np.flatnonzero(np.isin(f.users, held_users))) for f in folds])
    learning = [(f, np.flatnonzero(~np.isin(f.users, held_users))) for f in folds]
    taught, taught_truth = _pooled(learning)
    singles["blend"] = max(
        (_blend(weight) for weight in BLEND_WEIGHTS),
        key=lambda blend: ndcg_of(stage, taught, taught_truth, k, blend),
    )
    scores = {name: ndcg_of(stage, held, held_truth, k, r) for name, r in singles.items()}
    model = _fit(learning, config, k, seed, config.ranker_trees)
    best_trees, best_score = 0, -np.inf
    if model is not None:
        for trees in _checkpoints(config.ranker_trees):
            score = ndcg_of(stage, held, held_truth, k, Ranker(RETRIEVAL_ONLY, model, trees))
            if score > best_score:
                best_trees, best_score = trees, score
        scores["lambdarank"] = best_score
    best = max(scores, key=lambda name: (scores[name], name != "lambdarank"))  # must beat
    if best != "lambdarank" or model is None:
        return LearnedRanker(singles[best], best, scores)
    everyone = [(f, np.arange(len(f.users))) for f in folds]
    final = _fit(everyone, config, k, seed, best_trees) or model
    return LearnedRanker(Ranker(RETRIEVAL_ONLY.copy(), final), "lambdarank", scores, best_trees)


def _pooled(folds: list[tuple[Fold, np.ndarray]]) -> tuple[Candidates, sp.csr_matrix]:
    """The chosen rows of each fold as one batch: candidates and their truth."""
    found = Candidates(
        np.concatenate([f.found.rows[r] for f, r in folds]),
        np.concatenate([f.found.features[r] for f, r in folds]),
    )
    return found, sp.vstack([f.truth[r] for f, r in folds]).tocsr()


def _blend(item_item_weight: float) -> Ranker:
    """The joint score plus item_item_weight x the item-to-item score (both standardised)."""
    return Ranker(RETRIEVAL_ONLY + np.float32(item_item_weight) * ITEM_ITEM_ONLY)


def _checkpoints(most: int) -> list[int]:
    """Tree counts compared on the held-out users: every 10, and the most allowed."""
    return sorted({*range(10, most, 10), most})
