"""Validation-only probe (issue 12): does time context help the ranker on ml-100k's random split?

A random split leaves a user's held-out items interleaved in time with their training ones,
and most ml-100k users rate in one or a few sessions. So the probe gives the ranker features
of the *user's time* t_u (their newest event in the fitting part), each using only events at
or before t_u except the item's first event (known at serving for any user: "now" is later):

  trend7 / trend30  log((1 + the item's events in (t_u - W days, t_u]) / (1 + all events there))
  trend7_rel        trend7 minus the item's overall popularity share
  age_at_user       signed log days from the item's first event to t_u (negative: not out yet)
  session_trend     trend over (the user's first event - 1 day, t_u]

and measures what the ranking stage's own choice (matching/ranking_fit.learn_ranker: four-fold
cross-validation over the validation users, both validation carves) scores with and without
them. Nothing here touches a test part: per seed, the random 80/20 split's training part is
carved exactly as `tagmatch train`'s search carves it. The model settings are fixed to the
ones seed 0's 15-trial search chose (BENCHMARKS.md), so that only the features differ.

The extra columns are appended after ranking.FEATURES; learn_ranker's linear orders (joint
score, EASE score, blends) are widened with zeros for them, so they score exactly as before.

    .venv/bin/python bench/time_context_probe.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from unittest import mock

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import rankdata

import matching.ranking_fit as ranking_fit
from bench.ml100k import ml100k_path
from matching.config import ALSConfig, ModelConfig, SearchConfig
from matching.data import SECONDS_PER_DAY, Snapshot
from matching.datasets import load_movielens_100k
from matching.evaluate import random_split
from matching.ranking import (
    FEATURES,
    ITEM_ITEM_ONLY,
    RETRIEVAL_ONLY,
    Candidates,
    Ranker,
    _standardised,
    ndcg_of,
)
from matching.ranking_fit import Fold, learn_ranker
from matching.search import _fold, apply, prepare, restrict

SEED0_CHOSEN = {  # seed 0's search, BENCHMARKS.md (random split, 15 trials)
    "als.factors": 30,
    "als.regularization": 29.3,
    "als.alpha": 1.7,
    "als.iterations": 19,
    "als.weighting": "log",
    "decay": "off",
    "hybrid.tag_share": 0.341,
    "hybrid.tag_dim": 32,
    "hybrid.ridge_lambda": 46.5,
}
EXTRA = ("trend7", "trend30", "trend7_rel", "age_at_user", "session_trend")
LINEAR_WEIGHTS = (0.0, 0.1, 0.25, 0.5)
VARIANTS = {
    "base": (),
    "+ trend7, trend30, trend7_rel": (0, 1, 2),
    "+ age_at_user": (3,),
    "+ session_trend": (4,),
    "+ all five": (0, 1, 2, 3, 4),
}


def time_features(fit: Snapshot, users: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(m, C, len(EXTRA)) for the users' candidate rows, from the fitting part's events."""
    events = fit.events
    safe = np.maximum(rows, 0).astype(np.int64)
    newest_of = np.full(fit.n_users, -np.inf)
    np.maximum.at(newest_of, events.user, events.ts)
    oldest_of = np.full(fit.n_users, np.inf)
    np.minimum.at(oldest_of, events.user, events.ts)
    now = np.broadcast_to(newest_of[users][:, None], rows.shape)
    # one sorted key per event, item-major: an item's events in (lo, hi] by two searchsorteds
    start, span = events.ts.min(), events.ts.max() - events.ts.min() + 10 * SECONDS_PER_DAY
    keys = np.sort(events.item.astype(np.int64) * span + (events.ts - start))
    every = np.sort(events.ts)

    def share(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        mine = np.searchsorted(keys, safe * span + (hi - start), side="right") - np.searchsorted(
            keys, safe * span + (lo - start), side="right"
        )
        total = np.searchsorted(every, hi, side="right") - np.searchsorted(every, lo, side="right")
        return np.log((1.0 + mine) / (1.0 + total))

    trend7, trend30 = share(now - 7 * SECONDS_PER_DAY, now), share(now - 30 * SECONDS_PER_DAY, now)
    users_per_item = np.bincount(events.item, minlength=fit.n_items)
    active = len(np.unique(events.user))
    popularity = np.log((1.0 + users_per_item) / (1.0 + active))[safe]
    first = np.full(
        fit.n_items, events.ts.max() + SECONDS_PER_DAY
    )  # never seen: newer than everyone's t_u
    np.minimum.at(first, events.item, events.ts)
    days = (now - first[safe]) / SECONDS_PER_DAY
    session = share(np.broadcast_to(oldest_of[users][:, None], rows.shape) - SECONDS_PER_DAY, now)
    out = np.stack(
        [trend7, trend30, trend7 - popularity, np.sign(days) * np.log1p(np.abs(days)), session],
        axis=-1,
    )
    return np.where((rows >= 0)[..., None], out, 0.0)


def auc(scores: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> float:
    """Mean over queries of the probability that a relevant candidate scores above an
    irrelevant one (within the query: per-user offsets of a feature do not count)."""
    found = []
    for row in range(len(scores)):
        mark, value = labels[row][valid[row]], scores[row][valid[row]]
        positives = mark.sum()
        if 0 < positives < len(mark):
            ranks = rankdata(value)
            negatives = len(mark) - positives
            found.append(
                (ranks[mark].sum() - positives * (positives + 1) / 2) / (positives * negatives)
            )
    return float(np.mean(found))


def widened(width: int) -> tuple[np.ndarray, np.ndarray]:
    """learn_ranker's linear orders for feature rows of `width` columns (zero weight on the
    extra ones)."""
    pad = width - len(FEATURES)
    zeros = np.zeros(pad, np.float32)
    return np.concatenate([RETRIEVAL_ONLY, zeros]), np.concatenate([ITEM_ITEM_ONLY, zeros])


def run(snapshot: Snapshot, seed: int) -> dict[str, dict[str, float]]:
    train_mask, _ = random_split(len(snapshot.events), 0.2, seed)
    part = restrict(snapshot, train_mask)
    config = apply(
        ModelConfig(
            als=ALSConfig(random_state=seed),
            search=SearchConfig(trials=0, seconds=0, seed=seed, validation="random"),
        ),
        {**SEED0_CHOSEN, "ranking.ease_lambda": 500.0},
    )
    # the folds learn_stage builds (the search's carve, then one carved from its fitting part)
    folds: list[Fold] = []
    extras: list[np.ndarray] = []
    stage, current = None, prepare(part, config)
    while current is not None and len(folds) < config.ranking.ranker_folds:
        fold_stage, fold = _fold(current, config)
        stage = stage or fold_stage
        folds.append(fold)
        extras.append(time_features(current.fit, fold.users, fold.found.rows))
        current = prepare(current.fit, config)
    assert stage is not None
    valid, labels, base_features = (
        folds[0].found.rows >= 0,
        folds[0].labels,
        folds[0].found.features,
    )
    print(
        f"[seed {seed}] fold users {[len(f.users) for f in folds]}; per-user AUC of each "
        "feature alone, relevant vs other candidates (fold 0): "
        + ", ".join(
            f"{name} {auc(extras[0][..., j], labels, valid):.3f}" for j, name in enumerate(EXTRA)
        )
        + "".join(
            f", {name} {auc(base_features[..., FEATURES.index(name)], labels, valid):.3f}"
            for name in ("popularity", "recency", "age", "retrieval", "item_item")
        ),
        file=sys.stderr,
        flush=True,
    )
    # linear: the blend z(joint) + 0.5 z(EASE) plus w x the feature standardised per user
    fold, blend = folds[0], RETRIEVAL_ONLY + np.float32(0.5) * ITEM_ITEM_ONLY
    for j, name in enumerate(EXTRA):
        column = _standardised(extras[0][..., j], valid)[..., None]
        found = Candidates(fold.found.rows, np.concatenate([fold.found.features, column], -1))
        scores = [
            ndcg_of(stage, found, fold.truth, config.eval.k, Ranker(np.append(blend, weight)))
            for weight in LINEAR_WEIGHTS
        ]
        print(
            f"[seed {seed}] fold 0, blend + w * z({name}), w = "
            + " / ".join(map(str, LINEAR_WEIGHTS))
            + ": "
            + " / ".join(f"{v:.4f}" for v in scores),
            file=sys.stderr,
            flush=True,
        )
    results = {}
    for name, columns in VARIANTS.items():
        with_extra = [
            Fold(
                f.users,
                Candidates(f.found.rows, np.concatenate([f.found.features, e[..., columns]], -1)),
                f.truth,
            )
            for f, e in zip(folds, extras, strict=True)
        ]
        retrieval, item_item = widened(len(FEATURES) + len(columns))
        with mock.patch.multiple(ranking_fit, RETRIEVAL_ONLY=retrieval, ITEM_ITEM_ONLY=item_item):
            learned = learn_ranker(stage, with_extra, config.ranking, config.eval.k, seed)
        check = learned.check_ndcg
        results[name] = {**check, "served": check[learned.chosen]}
        print(
            f"[seed {seed}] {name}: serves {learned.chosen}; "
            + ", ".join(f"{k} {v:.4f}" for k, v in check.items()),
            file=sys.stderr,
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=ml100k_path())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if args.ml100k is None or not (args.ml100k / "u.data").is_file():
        sys.exit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    snapshot = load_movielens_100k(args.ml100k).to_snapshot()
    runs = [run(snapshot, seed) for seed in args.seeds]
    print(
        f"\n## ml-100k random split, validation nDCG@10 (4-fold CV over validation users), "
        f"seeds {args.seeds}\n"
    )
    print("| features | lambdarank | served (the stage's choice) | served − base |")
    print("|---|---|---|---|")
    base = np.array([r["base"]["served"] for r in runs])
    for name in VARIANTS:
        learned = np.array([r[name]["lambdarank"] for r in runs])
        served = np.array([r[name]["served"] for r in runs])
        print(
            f"| {name} | {' / '.join(f'{v:.4f}' for v in learned)} (mean {learned.mean():.4f}) "
            f"| {' / '.join(f'{v:.4f}' for v in served)} (mean {served.mean():.4f}) "
            f"| {(served - base).mean():+.4f} |"
        )


if __name__ == "__main__":
    main()
