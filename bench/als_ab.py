"""tagmatch's ALS step (matching.als.fit_als) against the raw implicit call, each alone in a
fresh process, in alternating pairs: is the final fit's ALS step the library call's cost?

    .venv/bin/python bench/als_ab.py --users 1000000 --items 100000 --events 20000000 --pairs 4

bench/scale_bench.py --fit-only times both inside one training process, one after the other,
where run-to-run drift and the process's state (a heap grown by the tag space) fall on one
side only. Here the confidence matrix `tagmatch train` would fit (matching.pipeline's
confidence_matrix on the synthetic snapshot, default settings) is built once and saved; then
each fit runs in a new process that loads it and times only the call, wall and CPU seconds,
in the order raw, tagmatch, tagmatch, raw, raw, ... (ABBA: linear drift cancels in every
two pairs). The raw call is scale_bench.raw_implicit_fit: the same factors, regularisation,
iterations, seed and confidence, and implicit's own threads in both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scipy.sparse as sp

from bench.fresh_process import run_json
from bench.machine_stats import machine
from bench.scale_bench import raw_implicit_fit
from matching.als import confidence_matrix, decay_reference, fit_als
from matching.config import ModelConfig
from matching.synthetic import generate_catalogue

SIDES = ("raw", "tagmatch")


def build_matrix(args: argparse.Namespace, path: Path) -> None:
    catalogue = generate_catalogue(args.users, args.items, args.events, seed=0, clusters=8)
    snapshot = catalogue.to_snapshot()
    events = snapshot.events
    reference = decay_reference(events, snapshot.now)
    config = ModelConfig()
    matrix = confidence_matrix(events, snapshot.n_users, snapshot.n_items, config.events, reference)
    sp.save_npz(path, matrix, compressed=False)


def one_fit(side: str, path: Path) -> dict[str, float]:
    """Load the matrix, then time one fit of `side` (in this process)."""
    matrix = sp.csr_matrix(sp.load_npz(path))
    config = ModelConfig()
    if side == "raw":
        wall, cpu = raw_implicit_fit(matrix, config)
    else:
        started, cpu_started = time.perf_counter(), time.process_time()
        fit_als(matrix, config.als)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"wall": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--pairs", type=int, default=4, help="raw/tagmatch pairs, ABBA order")
    parser.add_argument("--matrix", type=Path, default=None, help="reuse a saved matrix")
    parser.add_argument("--run", choices=SIDES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        print(json.dumps(one_fit(args.run, args.matrix)))
        return

    print(f"# ALS A/B: {args.users} users x {args.items} items x {args.events} events\n")
    print(f"machine: {machine()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average at start: {os.getloadavg()}\n")
    with tempfile.TemporaryDirectory(prefix="tagmatch-als-ab-") as work:
        path = args.matrix
        if path is None:
            path = Path(work) / "confidence.npz"
            build_matrix(args, path)
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        print("| run | side | wall s | CPU s |")
        print("|---|---|---|---|")
        for pair in range(args.pairs):
            for side in SIDES if pair % 2 == 0 else SIDES[::-1]:
                result = run_json(__file__, "--run", side, "--matrix", str(path))
                runs[side].append(result)
                print(f"| {pair + 1} | {side} | {result['wall']:.1f} | {result['cpu']:.1f} |")
    print()
    for unit in ("wall", "cpu"):
        raw = [r[unit] for r in runs["raw"]]
        ours = [r[unit] for r in runs["tagmatch"]]
        ratios = [o / r for o, r in zip(ours, raw, strict=True)]
        ours_median, raw_median = statistics.median(ours), statistics.median(raw)
        print(
            f"{unit}: tagmatch / raw, median of each side {ours_median:.1f} / {raw_median:.1f} "
            f"= {ours_median / raw_median:.3f}x; per pair {min(ratios):.3f}x to {max(ratios):.3f}x"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
