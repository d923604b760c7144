"""Learning the ranking stage's ranker on validation data (never the gate's test part).

Examples come from validation folds carved from the training part: fold 0 is the search's own
validation split, and each further fold carves the same way from the previous fold's fitting
part (an older slice for the time-based splits), with its own model fits, so the ranker sees
several times the users the search's split alone holds. Fold 0's users are dealt (seeded)
into four parts, and each part in turn is held out of every fold: a LightGBM lambdarank model
(one thread, deterministic) learns on the rest, and is scored on the held-out users' rows of
every fold — by the nDCG@k the search uses, against each user's whole validation truth, so
candidates recall counts — at several tree counts, beside the order of the joint score alone,
of the item-to-item score alone, and of linear blends (_blends): the joint
and item-to-item scores with a few item-to-item weights, and, with a sequence model, those
plus one sequence score with a few weights (every score standardised within the query).
Summed over the four parts every user has been held out once, so the choice rests on all of
them (a single held-out quarter chose a model that beat the blend by 0.002 on its 235 users
and lost on test). Each family of orders (a tree count, a blend's weights) is scored nested:
the member chosen on three parts is scored on the fourth, so a family of 40 blends does not
win by the luck of its best member (on a random split of ml-100k the best sequence blend's
plain total beat the plain blend's by 0.003–0.005 on every seed and did not on test; nested,
with the settings fixed, the difference was −0.0015 to +0.0018, its sign varying by seed).
The best family serves, with its member best over all users; a learned model must beat the
others, and is then refitted on every user with the preferred tree count.

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

CHECK_SHARE = 0.25  # each cross-validation part's share of the validation users
BLEND_WEIGHTS = (0.25, 0.5, 1.0, 2.0)  # the item-to-item score's weight beside the joint score's
SEQUENCE_WEIGHTS = (0.5, 1.0, 2.0, 4.0)  # a sequence score's weight in a blend


@dataclass(slots=True)
class LearnedRanker:
    ranker: Ranker
    chosen: str  # "lambdarank", "retrieval", "item_item", "blend" or "sequence blend"
    check_ndcg: dict[str, float] = field(default_factory=dict)  # held-out validation users
    trees: int = 0

    def summary(self) -> dict[str, Any]:
        """What the model search stores: the choice, the held-out comparison, and what the
        ranker leans on (each feature's share of the model's gain, or the linear weights)."""
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
    families: dict[str, dict[str, Ranker]] = {
        "retrieval": {"retrieval": Ranker(RETRIEVAL_ONLY.copy())},
        "item_item": {"item_item": Ranker(ITEM_ITEM_ONLY.copy())},
        **_blends(stage.sequence is not None),
    }
    first = folds[0]
    m = len(first.users)
    parts = round(1 / CHECK_SHARE)
    if m < parts:
        return LearnedRanker(families["retrieval"]["retrieval"], "retrieval")
    # every validation user is held out once (parts-fold cross-validation over fold 0's users,
    # with their rows of every fold): the choice rests on all of them, not on a quarter
    part_of = np.empty(m, np.int64)
    part_of[np.random.default_rng(seed).permutation(m)] = np.arange(m) % parts
    # per family, per member: its summed nDCG on each part's held-out rows
    sums = {
        name: {member: np.zeros(parts) for member in family} for name, family in families.items()
    }
    sums["lambdarank"] = {
        str(trees): np.zeros(parts) for trees in _checkpoints(config.ranker_trees)
    }
    learned_everywhere = True
    rows = np.zeros(parts)
    for part in range(parts):
        held_users = first.users[part_of == part]
        held, truth = _pooled([(f, np.flatnonzero(np.isin(f.users, held_users))) for f in folds])
        rows[part] = truth.shape[0]
        for name, family in families.items():
            for member, ranker in family.items():
                sums[name][member][part] = rows[part] * ndcg_of(stage, held, truth, k, ranker)
        learning = [(f, np.flatnonzero(~np.isin(f.users, held_users))) for f in folds]
        model = _fit(learning, config, k, seed, config.ranker_trees)
        if model is None:
            learned_everywhere = False
            continue
        for trees, scored in sums["lambdarank"].items():
            ranker = Ranker(RETRIEVAL_ONLY, model, int(trees))
            scored[part] = rows[part] * ndcg_of(stage, held, truth, k, ranker)
    if not learned_everywhere:
        del sums["lambdarank"]
    check = {name: float(_nested(members) / rows.sum()) for name, members in sums.items()}
    # ties go to the simpler family (dict order), and a learned model must beat the rest
    best = max(check, key=lambda name: (check[name], name != "lambdarank"))
    # the member that serves: the best over every held-out user; a tie goes to the one
    # listed first (the fewer trees, the smaller weight)
    listed = list(sums[best])
    member = max(listed, key=lambda name: (sums[best][name].sum(), -listed.index(name)))
    if best != "lambdarank":
        return LearnedRanker(families[best][member], best, check)
    everyone = [(f, np.arange(len(f.users))) for f in folds]
    final = _fit(everyone, config, k, seed, int(member))
    assert final is not None  # every part learned, so everyone's rows have positives
    return LearnedRanker(Ranker(RETRIEVAL_ONLY.copy(), final), "lambdarank", check, int(member))


def _nested(members: dict[str, np.ndarray]) -> float:
    """A family's summed held-out nDCG when its member is chosen without the part it is
    scored on: for each part, the member best on the other parts, scored on this one. The
    best member's own total would be optimistic by a maximum over noise, more so the more
    members a family has (a grid of 40 blends against one fixed order)."""
    total = 0.0
    names = list(members)
    for part in range(len(next(iter(members.values())))):
        elsewhere = [members[name].sum() - members[name][part] for name in names]
        total += members[names[int(np.argmax(elsewhere))]][part]
    return total


def _pooled(folds: list[tuple[Fold, np.ndarray]]) -> tuple[Candidates, sp.csr_matrix]:
    """The chosen rows of each fold as one batch: candidates and their truth."""
    found = Candidates(
        np.concatenate([f.found.rows[r] for f, r in folds]),
        np.concatenate([f.found.features[r] for f, r in folds]),
    )
    return found, sp.vstack([f.truth[r] for f, r in folds]).tocsr()


def _blends(sequence: bool) -> dict[str, dict[str, Ranker]]:
    """Families of linear orders, every score standardised: "blend", the joint score plus
    w x the item-to-item score, w in BLEND_WEIGHTS; with a sequence model also "sequence
    blend", the joint score plus w x the item-to-item score (w in 0 and BLEND_WEIGHTS) plus
    v x one sequence score (whole history or newest items), v in SEQUENCE_WEIGHTS."""
    unit = np.eye(len(FEATURES), dtype=np.float32)
    base = {w: RETRIEVAL_ONLY + np.float32(w) * ITEM_ITEM_ONLY for w in (0.0, *BLEND_WEIGHTS)}
    families = {"blend": {f"{w:g}": Ranker(base[w]) for w in BLEND_WEIGHTS}}
    if sequence:
        families["sequence blend"] = {
            f"{w:g} {name} {v:g}": Ranker(base[w] + np.float32(v) * unit[FEATURES.index(name)])
            for name in ("sequence", "sequence_recent")
            for w in base
            for v in SEQUENCE_WEIGHTS
        }
    return families


def _checkpoints(most: int) -> list[int]:
    """Tree counts compared on the held-out users: every 10, and the most allowed."""
    return sorted({*range(10, most, 10), most})
