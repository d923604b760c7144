"""Audience top-n over every user, and recommend's candidate retrieval over every item: exact
search against the approximate indexes, side by side in one process, on trained joint vectors.

    # 1. fit once (the final fit of `tagmatch train`, no evaluation), keep the joint vectors
    .venv/bin/python bench/ann_bench.py --fit --users 1000000 --items 100000 --events 5000000 \
        --vectors /tmp/ann-1m
    # 2. compare searches on them (repeatable; minutes)
    .venv/bin/python bench/ann_bench.py --vectors /tmp/ann-1m

The vectors are what pipeline.fit_snapshot produces on matching.synthetic's catalogue (planted
taste clusters): the same joint [cf, tag] vectors the served indexes hold, with the very
different norms those have. Queries are what the serving path sends: an item's joint vector
for an audience (model.audience), a user's for recommend's candidates (model._items_for).
Every timing is one query at a time on one thread (one serving request = one thread). Recall
is |approximate ∩ exact| / n per query, averaged.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from bench.machine_stats import machine
from matching.config import IndexConfig, ModelConfig
from matching.index import VectorIndex


def fit_vectors(users: int, items: int, events: int, clusters: int, out: Path) -> None:
    from matching.pipeline import fit_snapshot
    from matching.synthetic import generate_catalogue

    started = time.perf_counter()
    snapshot = generate_catalogue(users, items, events, seed=0, clusters=clusters).to_snapshot()
    generated = time.perf_counter() - started
    started = time.perf_counter()
    fitted = fit_snapshot(snapshot, ModelConfig())
    fit_s = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "user_vectors.npy", fitted.model.user_vectors)
    np.save(out / "item_vectors.npy", fitted.model.item_vectors)
    (out / "source.txt").write_text(
        f"fit_snapshot (ModelConfig defaults) on generate_catalogue({users}, {items}, {events}, "
        f"seed=0, clusters={clusters}); generate {generated:.0f} s, fit {fit_s:.0f} s, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}\n"
    )
    print((out / "source.txt").read_text())


def inner_product_ivf(vectors: np.ndarray, config: IndexConfig) -> VectorIndex:
    """The IVF+SQ8 as built before the MIPS reduction (cells by inner product), the baseline;
    its search gets the same exact re-ranking."""
    n, dim = vectors.shape
    lists = max(1, min(config.ivf_lists or 4 * round(np.sqrt(n)), n // 39))
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim),
        dim,
        lists,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )
    index.cp.seed = 1234
    index.train(vectors[np.sort(np.random.default_rng(0).permutation(n)[: config.ivf_train_max])])
    index.add(vectors)
    return VectorIndex(vectors, index, config)


def index_bytes(index: VectorIndex) -> int:
    with tempfile.NamedTemporaryFile(suffix=".faiss") as handle:
        index.save(Path(handle.name))
        return Path(handle.name).stat().st_size


def recall(found: list[np.ndarray], truth: list[np.ndarray], n: int) -> float:
    return float(
        np.mean([len(np.intersect1d(f, t)) / n for f, t in zip(found, truth, strict=True)])
    )


def timed_search(
    index: VectorIndex, queries: np.ndarray, n: int
) -> tuple[list[np.ndarray], float, int]:
    """(answers, ms per query, queries the index answered short and re-ran exactly)."""
    fallbacks = 0
    exact = index.exact

    def counted(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        nonlocal fallbacks
        fallbacks += 1
        return exact(*args, **kwargs)  # type: ignore[arg-type]

    index.exact = counted  # type: ignore[method-assign]
    started = time.perf_counter()
    found = [index.search(q[None, :], n)[0][0] for q in queries]
    return found, (time.perf_counter() - started) * 1000 / len(queries), fallbacks


def compare(
    label: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    n: int,
    configs: list[tuple[str, IndexConfig, list[dict[str, float]]]],
) -> None:
    """One table: exact, then each index kind at each search setting."""
    print(f"\n## {label}: top-{n} over {len(vectors)} rows, {len(queries)} queries\n")
    norms = np.linalg.norm(vectors, axis=1)
    print(
        "row norms: min {:.3f}, p10 {:.3f}, median {:.3f}, p90 {:.3f}, max {:.3f}\n".format(
            *np.quantile(norms, [0, 0.1, 0.5, 0.9, 1])
        )
    )
    print(
        "| search | build s | index MiB | setting | recall@n vs exact | ms per query "
        "| answered short, re-run exactly |"
    )
    print("|---|---|---|---|---|---|---|")
    exact = VectorIndex.build(vectors, IndexConfig(exact_max=len(vectors)))
    started = time.perf_counter()
    truth = [exact.exact(q[None, :], n)[0][0] for q in queries]
    exact_ms = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"| exact (chunked matmul) | — | — | — | 1.000 | {exact_ms:.1f} | — |", flush=True)
    for name, config, settings in configs:
        faiss.omp_set_num_threads(2)  # a training node builds with both cores
        started = time.perf_counter()
        index = (inner_product_ivf if "before" in name else VectorIndex.build)(vectors, config)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        size = index_bytes(index) / 2**20
        for update in settings:
            probe = VectorIndex(vectors, index.index, config.model_copy(update=update))
            found, ms, fallbacks = timed_search(probe, queries, n)
            setting = ", ".join(f"{k} {v}" for k, v in update.items()) or "shipped"
            if update and update == {k: getattr(config, k) for k in update}:
                setting += " (default)"
            print(
                f"| {name} | {build_s:.0f} | {size:.0f} | {setting} | "
                f"{recall(found, truth, n):.3f} | {ms:.1f} | {fallbacks} |",
                flush=True,
            )
        del index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=Path, required=True, help="directory of the vectors")
    parser.add_argument("--fit", action="store_true", help="fit and save the vectors, then stop")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--queries", type=int, default=100, help="queries timed per setting")
    parser.add_argument("--old", action="store_true", help="also the inner-product IVF+SQ8")
    parser.add_argument("--hnsw", action="store_true", help="also HNSW on the item side")
    parser.add_argument("--skip-items", action="store_true", help="audience side only")
    args = parser.parse_args()
    print(f"# ANN bench\n\nmachine: {machine()}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average at start: {os.getloadavg()}\n")
    if args.fit:
        with threadpool_limits(1, "blas"):
            fit_vectors(args.users, args.items, args.events, args.clusters, args.vectors)
        return
    print("vectors:", (args.vectors / "source.txt").read_text().strip())
    users = np.load(args.vectors / "user_vectors.npy", mmap_mode="r")
    items = np.load(args.vectors / "item_vectors.npy", mmap_mode="r")
    users, items = np.ascontiguousarray(users), np.ascontiguousarray(items)
    rng = np.random.default_rng(1)
    faiss.omp_set_num_threads(1)
    with threadpool_limits(1, "blas"):
        ivf = IndexConfig(exact_max=1)  # the shipped IVF+SQ8 settings, forced on by the size
        shipped = {"ivf_nprobe": ivf.ivf_nprobe, "ivf_rerank": ivf.ivf_rerank}
        name = "IVF+SQ8, L2 cells on MIPS-augmented rows + exact re-rank"
        sweep = [
            {"ivf_nprobe": p, "ivf_rerank": r}
            for p, r in ((32, 2), (64, 2), (128, 2), (256, 2), (512, 2), (256, 4))
        ]
        configs = [(name, ivf, sweep)]
        if args.old:
            configs.append(("IVF+SQ8, inner-product cells (before)", ivf, [shipped]))
        queries = items[rng.integers(0, len(items), args.queries)]
        compare("audience (item query, user rows)", users, queries, 1000, configs)
        if not args.skip_items:
            queries = users[rng.integers(0, len(users), args.queries)]
            sweep = [{"ivf_nprobe": p, "ivf_rerank": 2} for p in (32, 64, 128, 256)]
            configs = [(name, ivf, sweep)]
            if args.hnsw:  # the shipped HNSW, built with both cores (not reproducible)
                hnsw = IndexConfig(exact_max=1, large_kind="hnsw", build_threads=2)
                configs.append(("HNSW, inner product (shipped M 32, efC 80)", hnsw, [{}]))
            compare("recommend candidates (user query, item rows)", items, queries, 200, configs)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
