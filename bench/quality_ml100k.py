"""Recommendation and cold-start quality on MovieLens 100K, tagmatch's hybrid next to baselines.

Protocol (issue 5, item 6):
  * Warm: every rating is an implicit positive. A seeded random 80/20 split of all ratings.
    Every model is fitted on the same binary 80% matrix (tag models also see the tag space
    built from the 80%: genres, title keywords, user attributes, behavioural genre tags).
    P@10 / nDCG@10 / recall@10 over users with test ratings, their training items excluded.
  * Cold items: all ratings of a seeded 10% of rated items are held out; models are fitted on
    the rest; each held-out item ranks all users by audience score (inner product of the
    item's vector, from its tags alone, with user vectors); recall@100 and AUC of the users
    who rated it. AUC here is per item over users (the audience question), averaged.
  * Tuning (--tune): never on the test split. 20% of the *training* ratings (another seed)
    become a validation split; a small grid of ALS and hybrid settings is scored by validation
    nDCG@10 and the ridge penalty by the validation cold-item AUC (10% of the training part's
    items held out). The winners are the defaults in matching/config.py.

    .venv/bin/python bench/quality_ml100k.py [--ml100k DIR] [--seed 0] [--tune]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy.sparse as sp

from bench.ml100k import ml100k_path
from matching.als import interaction_matrix
from matching.base import FactorRecommender, Recommender, TrainingData
from matching.config import ALSConfig, EventConfig, HybridConfig, TagConfig
from matching.data import Snapshot
from matching.datasets import load_movielens_100k
from matching.evaluate import audience_metrics, cold_item_split, evaluate_model, random_split
from matching.recommenders import Hybrid, MostPopular, RawALS, RawBPR, TagOnly
from matching.tagspace import build_tagspace

K = 10
AUDIENCE_K = 100


def training_data(snapshot: Snapshot, mask: np.ndarray) -> TrainingData:
    """Binary interactions and the tag space of the events in `mask` only (no leakage)."""
    events = snapshot.events.subset(mask)
    part = Snapshot(users=snapshot.users, items=snapshot.items, events=events, now=snapshot.now)
    binary = interaction_matrix(events, snapshot.n_users, snapshot.n_items)
    binary.data[:] = 1.0
    return TrainingData(binary, build_tagspace(part, TagConfig(), EventConfig()))


def held_out(snapshot: Snapshot, mask: np.ndarray) -> sp.csr_matrix:
    matrix = interaction_matrix(snapshot.events.subset(mask), snapshot.n_users, snapshot.n_items)
    matrix.data[:] = 1.0
    return matrix


def warm_table(
    models: dict[str, Recommender], data: TrainingData, test: sp.csr_matrix
) -> dict[str, dict[str, Any]]:
    rows = {}
    for name, model in models.items():
        started = time.time()
        model.fit(data)
        rows[name] = {
            **evaluate_model(model, data.interactions, test, K),
            "fit_s": time.time() - started,
        }
    return rows


def audience_scores(model: FactorRecommender) -> Callable[[np.ndarray], np.ndarray]:
    """Audience score of items for every user: the same inner product serving uses."""
    return lambda items: model.item_vectors[items] @ model.user_vectors.T


def cold_table(
    snapshot: Snapshot,
    fit_mask: np.ndarray,
    truth_mask: np.ndarray,
    cold: np.ndarray,
    models: dict[str, FactorRecommender],
    seed: int,
) -> dict[str, dict[str, float]]:
    """Fit on fit_mask's events; the audience truth of each cold item is in truth_mask."""
    data = training_data(snapshot, fit_mask)
    truth = held_out(snapshot, truth_mask).T.tocsr()[cold]
    rows = {}
    for name, model in models.items():
        model.fit(data)
        rows[name] = audience_metrics(audience_scores(model), cold, truth, AUDIENCE_K)
    rng = np.random.default_rng(seed)
    rows["random"] = audience_metrics(
        lambda items: rng.random((len(items), snapshot.n_users)), cold, truth, AUDIENCE_K
    )
    return rows


def tune(snapshot: Snapshot, train_mask: np.ndarray, seed: int) -> None:
    """Grid search on a validation split carved from the training ratings."""
    train_rows = np.flatnonzero(train_mask)
    inner_train, validation = random_split(len(train_rows), 0.2, seed + 1)
    fit_mask = np.zeros_like(train_mask)
    fit_mask[train_rows[inner_train]] = True
    val_mask = np.zeros_like(train_mask)
    val_mask[train_rows[validation]] = True
    data = training_data(snapshot, fit_mask)
    val = held_out(snapshot, val_mask)
    results = []
    grid = itertools.product((16, 32, 64), (0.5, 5.0, 20.0, 50.0), (0.5, 1.0, 5.0), (15,))
    for factors, reg, alpha, iterations in grid:
        als = ALSConfig(factors=factors, regularization=reg, alpha=alpha, iterations=iterations)
        model = Hybrid(als, HybridConfig(tag_share=0.0))
        ndcg = evaluate_model(model.fit(data), data.interactions, val, K)[f"ndcg@{K}"]
        results.append((ndcg, als))
        print(
            f"als {factors:4d} reg {reg:5.2f} alpha {alpha:5.1f} it {iterations}: "
            f"val nDCG {ndcg:.4f}"
        )
    best_als = max(results, key=lambda r: r[0])[1]
    print("best ALS:", best_als)
    hybrid_results = []
    for share, dim in itertools.product((0.0, 0.1, 0.2, 0.3, 0.5), (16, 32, 64)):
        config = HybridConfig(tag_share=share, tag_dim=dim)
        model = Hybrid(best_als, config)
        ndcg = evaluate_model(model.fit(data), data.interactions, val, K)[f"ndcg@{K}"]
        hybrid_results.append((ndcg, config))
        print(f"tag_share {share:.2f} tag_dim {dim}: val nDCG {ndcg:.4f}")
    best_hybrid = max(hybrid_results, key=lambda r: r[0])[1]
    print("best hybrid:", best_hybrid)
    keep, cold = cold_item_split(snapshot.events.subset(train_mask), 0.1, seed + 2)
    cold_fit = np.zeros_like(train_mask)
    cold_fit[train_rows[keep]] = True
    held = np.zeros_like(train_mask)
    held[train_rows[~keep]] = True
    for lam in (1.0, 10.0, 100.0, 1000.0):
        config = best_hybrid.model_copy(update={"ridge_lambda": lam})
        auc = cold_table(snapshot, cold_fit, held, cold, {"hybrid": Hybrid(best_als, config)}, seed)
        row = auc["hybrid"]
        print(
            f"ridge_lambda {lam:6.1f}: val cold AUC {row['auc']:.4f} "
            f"recall@{AUDIENCE_K} {row[f'recall@{AUDIENCE_K}']:.4f}"
        )


def markdown(rows: dict[str, dict[str, Any]], columns: list[str]) -> str:
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        cells = [
            f"{values[c]:.4f}" if isinstance(values[c], float) else str(values[c]) for c in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=ml100k_path())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune", action="store_true", help="grid-search on a validation split")
    args = parser.parse_args()
    if args.ml100k is None or not (args.ml100k / "u.data").is_file():
        sys.exit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    snapshot = load_movielens_100k(args.ml100k).to_snapshot()
    train_mask, test_mask = random_split(len(snapshot.events), 0.2, args.seed)
    if args.tune:
        tune(snapshot, train_mask, args.seed)
        return
    started = time.time()
    data = training_data(snapshot, train_mask)
    models: dict[str, Recommender] = {
        "most popular": MostPopular(),
        "implicit ALS (defaults)": RawALS(),
        "implicit BPR (defaults)": RawBPR(),
        "tag-only": TagOnly(),
        "tagmatch hybrid": Hybrid(),
        "ablation: hybrid, tag_share=0": Hybrid(hybrid=HybridConfig(tag_share=0.0)),
    }
    warm = warm_table(models, data, held_out(snapshot, test_mask))
    users = warm["most popular"]["users"]
    print(f"## ml-100k, random 80/20 split (seed {args.seed}), {users} test users\n")
    print(markdown(warm, [f"precision@{K}", f"ndcg@{K}", f"recall@{K}", "coverage", "fit_s"]))
    keep, cold = cold_item_split(snapshot.events, 0.1, args.seed)
    cold_rows = cold_table(
        snapshot,
        keep,
        ~keep,
        cold,
        {
            "tagmatch hybrid": Hybrid(),
            "tag-only": TagOnly(),
            "ablation: hybrid, tag_share=0": Hybrid(hybrid=HybridConfig(tag_share=0.0)),
        },
        args.seed,
    )
    print(f"\n## cold-start items: all ratings of {len(cold)} items (10%) held out\n")
    print(markdown(cold_rows, [f"recall@{AUDIENCE_K}", "auc", "items"]))
    print(f"\n(total {time.time() - started:.1f} s)")


if __name__ == "__main__":
    main()
