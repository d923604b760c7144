"""Recommendation and cold-start quality on MovieLens 100K: tagmatch next to tuned baselines.

Protocol (issue 12):
  * Two splits of the ratings, each with several seeds: a seeded random 80/20 split, and a
    per-user temporal 80/20 split (each user's newest 20% held out; the split itself has no
    randomness, the seed moves the search's sampler and the models' initialisation).
  * tagmatch goes through exactly the function `tagmatch train` runs (matching.pipeline.train)
    on the training events as the store holds them (type "rating", timestamps): the model
    search on a validation split carved from the training part (random for the random split,
    each user's newest events for the temporal one), the fit, the ranking stage. Its test
    figures come from TrainedModel.recommend, the serving path (FAISS, exclusions, ranking).
  * Baselines in the same run, on the same training part and the same validation split:
    most-popular; implicit ALS (binary) searched by optuna with the same number of trials;
    EASE with lambda chosen on validation; cosine item-kNN with k chosen on validation. Every
    model is refitted on the whole training part with its chosen settings, then tested.
  * P@10 / nDCG@10 / recall@10 over users with test ratings, their training items excluded.
    Mean ± standard deviation over the seeds.
  * Cold items: all ratings of a seeded 10% of items held out; each ranks all users (the
    audience call: item vector from its tags alone). tagmatch's pipeline fit with its default
    settings (a search would have to see the held-out items' ratings in its validation), the
    tag-only model, ranking users by activity alone, and random.

    .venv/bin/python bench/quality_ml100k.py [--ml100k DIR] [--seeds 0 1 2] [--trials 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import optuna
import scipy.sparse as sp

from bench.ml100k import ml100k_path
from matching.als import interaction_matrix
from matching.base import Recommender, TrainingData
from matching.config import ALSConfig, EventConfig, ModelConfig, SearchConfig, TagConfig
from matching.data import Snapshot
from matching.datasets import load_movielens_100k
from matching.evaluate import (
    audience_metrics,
    cold_item_split,
    evaluate_model,
    per_user_time_split,
    random_split,
)
from matching.model import TrainedModel
from matching.pipeline import fit_snapshot, served_metrics, train
from matching.recommenders import EASE, ImplicitALS, ItemKNN, MostPopular, TagOnly
from matching.search import restrict, validation_split
from matching.tagspace import build_tagspace

K = 10
AUDIENCE_K = 100
EASE_LAMBDAS = (10.0, 30.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
KNN_NEIGHBOURS = (10, 20, 50, 100, 200, 400)
METRICS = (f"precision@{K}", f"ndcg@{K}", f"recall@{K}")


def split(snapshot: Snapshot, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "random":
        train_mask, test_mask = random_split(len(snapshot.events), 0.2, seed)
    else:
        train_mask, test_mask = per_user_time_split(snapshot.events, 0.2)
    return train_mask, test_mask


def binary(snapshot: Snapshot, mask: np.ndarray) -> sp.csr_matrix:
    matrix = interaction_matrix(snapshot.events.subset(mask), snapshot.n_users, snapshot.n_items)
    matrix.data[:] = 1.0
    return matrix


def search_config(kind: str, seed: int, trials: int) -> ModelConfig:
    validation = "random" if kind == "random" else "user_time"
    return ModelConfig(
        als=ALSConfig(random_state=seed),
        search=SearchConfig(trials=trials, seconds=0, seed=seed, validation=validation),
    )


def run_tagmatch(
    snapshot: Snapshot, train_mask: np.ndarray, test: sp.csr_matrix, config: ModelConfig
) -> tuple[dict[str, Any], TrainedModel]:
    started = time.time()
    model = train(restrict(snapshot, train_mask), config, version="bench", evaluate=False)
    fit_s = time.time() - started
    metrics = served_metrics(model, test, K)
    metrics.pop("most_popular")
    return {**metrics, "fit_s": fit_s}, model


def latency(model: TrainedModel, repeats: int = 3) -> str:
    """Per-call cost of TrainedModel.recommend(user, 10) with the ranking stage, with the stage
    but no sequence model (its two features then cost nothing), and retrieval alone (the same
    model without its stage: FAISS top 10), every warm user, the three interleaved call by
    call so that load on the machine hits all alike."""
    variants = {"ranked": model, "plain": dataclasses.replace(model, ranking=None)}
    if model.ranking is not None:
        no_sequence = dataclasses.replace(model.ranking, sequence=None)
        variants["no_sequence"] = dataclasses.replace(model, ranking=no_sequence)
    users = [model.users.id(int(r)) for r in np.flatnonzero(np.diff(model.seen.indptr) > 0)]
    for user in users[:50]:  # warm-up: caches built, pages touched
        for variant in variants.values():
            variant.recommend(user, K)
    spent = dict.fromkeys(variants, 0.0)
    for _ in range(repeats):
        for user in users:
            for name, variant in variants.items():
                started = time.perf_counter()
                variant.recommend(user, K)
                spent[name] += time.perf_counter() - started
    ms = {name: 1e3 * total / (repeats * len(users)) for name, total in spent.items()}
    plain, ranked = ms["plain"], ms["ranked"]
    without = ms.get("no_sequence", ranked)
    return (
        f"recommend(user, {K}) over {len(users)} users x {repeats}, load {os.getloadavg()[0]:.1f}: "
        f"retrieval alone {plain:.3f} ms/call, with the ranking stage {ranked:.3f} ms/call "
        f"(+{ranked - plain:.3f} ms, ratio {ranked / plain:.2f}); the stage without its "
        f"sequence model {without:.3f} ms/call (the sequence scores: +{ranked - without:.3f} ms)"
    )


def run_baselines(
    snapshot: Snapshot,
    train_mask: np.ndarray,
    test: sp.csr_matrix,
    config: ModelConfig,
    seed: int,
    trials: int,
) -> dict[str, dict[str, Any]]:
    """Each baseline's settings chosen on the same validation split tagmatch searched on."""
    part = restrict(snapshot, train_mask)
    fit_rows, val_rows = validation_split(part, config)
    fit_data = TrainingData(binary(part, fit_rows))
    val = binary(part, val_rows)
    full = TrainingData(binary(snapshot, train_mask))

    def val_ndcg(model: Recommender) -> float:
        return evaluate_model(model.fit(fit_data), fit_data.interactions, val, K)[f"ndcg@{K}"]

    def tested(model: Recommender, started: float, chosen: str) -> dict[str, Any]:
        model.fit(full)
        metrics = evaluate_model(model, full.interactions, test, K)
        return {**metrics, "fit_s": time.time() - started, "chosen": chosen}

    rows: dict[str, dict[str, Any]] = {}
    started = time.time()
    rows["most popular"] = tested(MostPopular(), started, "-")

    started = time.time()

    def objective(trial: optuna.Trial) -> float:
        return val_ndcg(ImplicitALS(**als_params(trial), random_state=seed))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    best = study.best_params
    rows["implicit ALS, searched"] = tested(
        ImplicitALS(**best, random_state=seed), started, _describe(best)
    )

    started = time.time()
    lam = max(EASE_LAMBDAS, key=lambda value: val_ndcg(EASE(value)))
    rows["EASE"] = tested(EASE(lam), started, f"lambda={lam:g}")

    started = time.time()
    neighbours = max(KNN_NEIGHBOURS, key=lambda value: val_ndcg(ItemKNN(value)))
    rows["item-kNN (cosine)"] = tested(ItemKNN(neighbours), started, f"k={neighbours}")
    return rows


def als_params(trial: optuna.Trial) -> dict[str, Any]:
    """The ALS part of tagmatch's search space (matching/search.py), for implicit alone."""
    return {
        "factors": trial.suggest_int("factors", 16, 192, log=True),
        "regularization": trial.suggest_float("regularization", 0.01, 300.0, log=True),
        "alpha": trial.suggest_float("alpha", 0.1, 50.0, log=True),
        "iterations": trial.suggest_int("iterations", 5, 30),
    }


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def cold_table(snapshot: Snapshot, seed: int) -> dict[str, dict[str, float]]:
    keep, cold = cold_item_split(snapshot.events, 0.1, seed)
    part = restrict(snapshot, keep)
    truth = binary(snapshot, ~keep).T.tocsr()[cold]
    config = ModelConfig(als=ALSConfig(random_state=seed))
    hybrid = fit_snapshot(part, config).model
    tags_only = TagOnly().fit(
        TrainingData(binary(snapshot, keep), build_tagspace(part, TagConfig(), EventConfig()))
    )
    activity = np.asarray(binary(snapshot, keep).sum(axis=1), dtype=np.float64).ravel()
    rng = np.random.default_rng(seed)
    scorers: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "tagmatch hybrid (pipeline fit)": lambda rows: (
            hybrid.item_vectors[rows] @ hybrid.user_vectors.T
        ),
        "activity (users by training events)": lambda rows: np.broadcast_to(
            activity, (len(rows), len(activity))
        ),
        "tag-only": lambda rows: tags_only.item_vectors[rows] @ tags_only.user_vectors.T,
        "random": lambda rows: rng.random((len(rows), snapshot.n_users)),
    }
    return {name: audience_metrics(f, cold, truth, AUDIENCE_K) for name, f in scorers.items()}


def ml100k_snapshot(path: Path | None) -> Snapshot:
    """ml-100k as the store would hold it, or exit naming the setting."""
    if path is None or not (path / "u.data").is_file():
        sys.exit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    return load_movielens_100k(path).to_snapshot()


def summarise(runs: list[dict[str, dict[str, Any]]], columns: tuple[str, ...]) -> str:
    names = list(runs[0])
    lines = [
        "| model | " + " | ".join(columns) + " | chosen (seed of the first run) |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name in names:
        cells = []
        for column in columns:
            values = np.array([run[name].get(column, np.nan) for run in runs], dtype=np.float64)
            blank = np.isnan(values).all()  # a column this row has no figure for
            cells.append("-" if blank else f"{values.mean():.4f} ± {values.std():.4f}")
        chosen = str(runs[0][name].get("chosen", ""))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {chosen} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=ml100k_path())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=30, help="search trials, every model")
    parser.add_argument("--splits", nargs="+", default=["random", "temporal"])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start table")
    args = parser.parse_args()
    snapshot = ml100k_snapshot(args.ml100k)
    started = time.time()
    timing = "(not measured)"
    for kind in args.splits:
        runs = []
        for seed in args.seeds:
            train_mask, test_mask = split(snapshot, kind, seed)
            test = binary(snapshot, test_mask)
            config = search_config(kind, seed, args.trials)
            tagmatch, model = run_tagmatch(snapshot, train_mask, test, config)
            found = model.metrics["search"]
            if kind == args.splits[0] and seed == args.seeds[0]:
                timing = latency(model)
            chosen = _describe(found["chosen"])
            ranking = found.get("ranking") or {}
            print(
                f"[{kind} seed {seed}] ranker {ranking.get('ranker')} "
                f"({ranking.get('trees')} trees), held-out validation nDCG "
                f"{ranking.get('check_ndcg')}",
                file=sys.stderr,
                flush=True,
            )
            row = {"tagmatch (train pipeline, served)": {**tagmatch, "chosen": chosen}}
            row.update(run_baselines(snapshot, train_mask, test, config, seed, args.trials))
            runs.append(row)
            print(
                f"[{kind} seed {seed}] "
                + ", ".join(f"{name}: {values[f'ndcg@{K}']:.4f}" for name, values in row.items()),
                file=sys.stderr,
                flush=True,
            )
        users = runs[0]["most popular"]["users"]
        print(
            f"\n## ml-100k, {kind} 80/20 split, seeds {args.seeds}, {users} test users, "
            f"{args.trials} search trials per searched model\n"
        )
        print(summarise(runs, (*METRICS, "fit_s")))
    print(f"\n## serving cost of the ranking stage (first split, first seed)\n\n{timing}")
    if not args.no_cold:
        cold_runs = [cold_table(snapshot, seed) for seed in args.seeds]
        print(f"\n## cold-start items: 10% of items held out, seeds {args.seeds}\n")
        print(summarise(cold_runs, (f"recall@{AUDIENCE_K}", "auc")))
    print(f"\n(total {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
