"""What sampling the holdout users (EvalConfig.max_users) does to the gate's numbers: the
served nDCG@k of a candidate and of a second procedure (the "active" side of the paired gate),
and their paired difference, scored on every holdout user and on seeded samples of them,
all in one process on the same fits.

    .venv/bin/python bench/eval_sampling.py --users 50000 --items 5000 --events 500000

Both procedures are fitted once on the time holdout's training part (pipeline.build_model,
no search: the blend is learned, settings as given) and scored through the serving path
(pipeline.served_answers, as served_metrics does). Every holdout user is scored once; a
sample's metric is the mean over its users (sample_rows, as served_metrics draws them; the
script checks one against served_metrics itself). The spread over sample seeds is what a
nightly run sees from one seed; the paired difference is what the gate decides on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.machine_stats import machine
from matching.als import interaction_matrix
from matching.config import ALSConfig, ModelConfig, SearchConfig
from matching.evaluate import ndcg_per_row, sample_rows, time_holdout
from matching.pipeline import build_model, served_answers, served_metrics
from matching.search import restrict, search
from matching.synthetic import generate_catalogue

SAMPLES = (500, 1_000, 2_000, 5_000, 10_000)
SEEDS = 20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--clusters", type=int, default=8)
    args = parser.parse_args()
    print(f"# holdout sampling\n\nmachine: {machine()}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average at start: {os.getloadavg()}\n")
    snapshot = generate_catalogue(
        args.users, args.items, args.events, seed=0, clusters=args.clusters
    ).to_snapshot()
    no_search = SearchConfig(trials=0)
    candidate = ModelConfig(search=no_search)
    active = ModelConfig(search=no_search, als=ALSConfig(factors=32, regularization=10.0))
    k = candidate.eval.k
    train_mask, test_mask = time_holdout(snapshot.events, candidate.eval)
    part = restrict(snapshot, train_mask)
    truth = interaction_matrix(
        snapshot.events.subset(test_mask), snapshot.n_users, snapshot.n_items
    )
    models = {}
    for name, config in (("candidate", candidate), ("active", active)):
        outcome = search(part, config)
        models[name] = build_model(part, outcome.config, outcome.weights, None, name)
    all_users = np.flatnonzero(np.diff(truth.indptr) > 0)
    per_user = {}
    started = time.perf_counter()
    for n, m in models.items():
        answered, _ = served_answers(m, all_users, k)
        per_user[n] = ndcg_per_row(answered, truth[all_users])
    full_s = time.perf_counter() - started
    users = len(all_users)
    position = {int(u): i for i, u in enumerate(all_users)}

    def sampled(n: str, size: int, seed: int) -> float:
        """served_metrics(model, truth, k, size, seed)'s nDCG: the mean over the same rows."""
        rows = [position[int(u)] for u in sample_rows(all_users, size, seed)]
        return float(per_user[n][rows].mean())

    check = served_metrics(models["candidate"], truth, k, SAMPLES[0], 0)[f"ndcg@{k}"]
    assert abs(check - sampled("candidate", SAMPLES[0], 0)) < 1e-12, "sampling differs"
    print(f"{users} holdout users; scoring all of them through recommend, both procedures: ")
    print(f"{full_s:.1f} s ({full_s * 1000 / users / 2:.1f} ms per user and procedure)\n")
    print(
        "| users scored | seeds | candidate nDCG, mean ± sd (min–max) | active nDCG, mean ± sd "
        "| paired difference, mean ± sd (min–max) | gate verdict as on all users |"
    )
    print("|---|---|---|---|---|---|")
    full = {n: float(v.mean()) for n, v in per_user.items()}
    print(
        f"| all {users} | — | {full['candidate']:.4f} | {full['active']:.4f} | "
        f"{full['candidate'] - full['active']:+.4f} | — |"
    )
    tolerance = candidate.eval.tolerance
    full_accept = full["candidate"] >= full["active"] * (1 - tolerance)
    for size in SAMPLES:
        if size >= users:
            continue
        cand = np.array([sampled("candidate", size, seed) for seed in range(SEEDS)])
        act = np.array([sampled("active", size, seed) for seed in range(SEEDS)])
        diff = cand - act
        agree = int(np.sum((cand >= act * (1 - tolerance)) == full_accept))
        print(
            f"| {size} | {SEEDS} | {cand.mean():.4f} ± {cand.std(ddof=1):.4f} "
            f"({cand.min():.4f}–{cand.max():.4f}) | {act.mean():.4f} ± {act.std(ddof=1):.4f} | "
            f"{diff.mean():+.4f} ± {diff.std(ddof=1):.4f} ({diff.min():+.4f}–{diff.max():+.4f}) "
            f"| {agree}/{SEEDS} |",
            flush=True,
        )
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
