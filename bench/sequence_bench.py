"""What the ranking stage's sequence model (matching/sequence.py) costs to build at scale, beside
two things the same training run builds from the same events: the item-kNN model of the ranking
stage (a catalogue above ranking.ease_max_items) and one ALS fit (implicit, the default
ALSConfig's factors, regularisation and iterations, on the 0/1 matrix). Each in a fresh
process: wall and CPU seconds, and the peak resident memory the build added to the process.

    .venv/bin/python bench/sequence_bench.py --users 1000000 --items 100000 --events 5000000

Events are seeded numpy draws: users uniform, items Zipf-like (exponent 1.1 over item rank, as
catalogues are), times uniform over 90 days; the build's cost depends on the number of events,
the window and how concentrated the pairs are, not on what the items mean.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares

from bench.fresh_process import run_json
from bench.machine_stats import machine
from matching.als import interaction_matrix
from matching.config import ALSConfig
from matching.data import EventLog
from matching.item_item import fit_item_knn
from matching.sequence import fit_sequence


def events(users: int, items: int, count: int, seed: int) -> EventLog:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, items + 1) ** 1.1
    item = rng.choice(items, size=count, p=weights / weights.sum())
    user = rng.integers(0, users, count)
    ts = 1_700_000_000.0 + rng.uniform(0, 90 * 86_400.0, count)
    return EventLog.from_columns(user=user, item=item, types=np.full(count, "view"), ts=ts)


def measure(kind: str, users: int, items: int, count: int, window: int, neighbours: int) -> None:
    """In this (fresh) process: build one model, print its cost as JSON."""
    log = events(users, items, count, seed=0)
    binary = interaction_matrix(log, users, items) if kind != "sequence" else None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    nnz = 0
    if kind == "als":
        config = ALSConfig()
        als = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            iterations=config.iterations,
            random_state=0,
        )
        als.fit(binary, show_progress=False)
    elif kind == "item_knn":
        assert binary is not None
        nnz = fit_item_knn(binary, neighbours).nnz
    else:
        nnz = fit_sequence(log, items, window, neighbours).nnz
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "cpu": cpu, "added_gib": (peak - before) / 2**20, "nnz": nnz}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--neighbours", type=int, default=100)
    kinds = ["als", "item_knn", "sequence"]
    parser.add_argument("--measure", choices=kinds, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = (args.users, args.items, args.events, args.window, args.neighbours)
    if args.measure:
        measure(args.measure, *shape)
        return
    print(f"{machine()}\n{args.users} users x {args.items} items x {args.events} events\n")
    print("| model | wall s | CPU s | sequence CPU / this CPU | peak memory added | entries |")
    print("|---|---|---|---|---|---|")
    flags = [f"--{k}={v}" for k, v in vars(args).items() if k != "measure"]
    results = {}
    for kind in ("als", "item_knn", "sequence"):
        results[kind] = run_json(__file__, *flags, f"--measure={kind}")
    for kind, found in results.items():
        ratio = results["sequence"]["cpu"] / found["cpu"]
        print(
            f"| {kind} | {found['wall']:.1f} | {found['cpu']:.1f} | {ratio:.3f} | "
            f"{found['added_gib']:.2f} GiB | {int(found['nnz'])} |"
        )


if __name__ == "__main__":
    main()
