"""Parity of the two ALS backends on MovieLens 100K: the Spark MLlib backend against implicit.

Protocol: for each seed, a random 80/20 split of all ratings; both backends go through the same
pipeline step `tagmatch train` runs (matching.pipeline.fit_snapshot: event confidence, tag space,
ALS, hybrid vectors) on the same 80%, with the same ModelConfig except `als.backend`, and are
scored by nDCG@10 / recall@10 over the held-out 20% (training items excluded). Both get the
shipped defaults (tuned for implicit on a validation split of the training part); Spark gets no
extra tuning, so a gap would be the backend's, not the budget's. Rows: the served hybrid and
its ALS half alone (tag_share=0). The check: Spark's nDCG@10 within 5% of implicit's.

    .venv/bin/python bench/spark_parity.py [--ml100k DIR] [--seeds 0 1 2] [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching.als import interaction_matrix
from matching.config import ALSConfig, HybridConfig, ModelConfig
from matching.data import Snapshot
from matching.datasets import load_movielens_100k, movielens_path
from matching.evaluate import evaluate_model, random_split
from matching.pipeline import fit_snapshot

K = 10
TOLERANCE = 0.05
VARIANTS = {"hybrid (served)": HybridConfig(), "ALS only (tag_share=0)": HybridConfig(tag_share=0)}


@dataclass(frozen=True)
class Score:
    ndcg: float
    recall: float
    fit_s: float


def score(snapshot: Snapshot, seed: int, config: ModelConfig) -> Score:
    """One backend, one split: fit on the 80% through the pipeline, score the 20%."""
    train_mask, test_mask = random_split(len(snapshot.events), 0.2, seed)
    part = Snapshot(
        users=snapshot.users,
        items=snapshot.items,
        events=snapshot.events.subset(train_mask),
        now=snapshot.now,
    )
    test = interaction_matrix(snapshot.events.subset(test_mask), snapshot.n_users, snapshot.n_items)
    started = time.perf_counter()
    fitted = fit_snapshot(part, config)
    fit_s = time.perf_counter() - started
    metrics = evaluate_model(fitted.model, fitted.confidence, test, K)
    return Score(float(metrics[f"ndcg@{K}"]), float(metrics[f"recall@{K}"]), fit_s)


def compare(
    snapshot: Snapshot, seeds: list[int], master: str, hybrid: HybridConfig
) -> dict[str, list[Score]]:
    implicit = ModelConfig(hybrid=hybrid)
    spark = ModelConfig(hybrid=hybrid, als=ALSConfig(backend="spark", spark_master=master))
    results: dict[str, list[Score]] = {"implicit": [], "spark": []}
    for seed in seeds:
        results["implicit"].append(score(snapshot, seed, implicit))
        results["spark"].append(score(snapshot, seed, spark))
    return results


def parity_ratios(results: dict[str, list[Score]]) -> list[float]:
    """Spark nDCG@10 / implicit nDCG@10, per seed."""
    return [s.ndcg / i.ndcg for s, i in zip(results["spark"], results["implicit"], strict=True)]


def _mean_sd(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {spread:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=movielens_path())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--master", default="local[2]", help="Spark master URL")
    args = parser.parse_args()
    if args.ml100k is None or not (args.ml100k / "u.data").is_file():
        sys.exit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    snapshot = load_movielens_100k(args.ml100k).to_snapshot()
    print(f"## Spark ALS vs implicit ALS, ml-100k, random 80/20, seeds {args.seeds}\n")
    print(f"| model | backend | nDCG@{K} | recall@{K} | fit s | Spark/implicit nDCG |")
    print("|---|---|---|---|---|---|")
    failed = False
    for name, hybrid in VARIANTS.items():
        results = compare(snapshot, args.seeds, args.master, hybrid)
        ratios = parity_ratios(results)
        within = all(abs(r - 1.0) <= TOLERANCE for r in ratios)
        failed |= not within
        for backend, scores in results.items():
            ratio = f"{_mean_sd(ratios)} ({'within' if within else 'OUTSIDE'} 5%)"
            print(
                f"| {name} | {backend} | {_mean_sd([s.ndcg for s in scores])} | "
                f"{_mean_sd([s.recall for s in scores])} | "
                f"{statistics.fmean(s.fit_s for s in scores):.1f} | "
                f"{ratio if backend == 'spark' else '—'} |"
            )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
