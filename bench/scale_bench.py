"""One node at scale: the whole training run stage by stage, ALS against raw implicit, the memory
of training and of one serving worker, and audiences over every user (exact vs the index).

    .venv/bin/python bench/scale_bench.py --users 1000000 --items 100000 --events 5000000
    .venv/bin/python bench/scale_bench.py --users 20000 --items 2000 --events 200000  # minutes

The catalogue is matching.synthetic's (taste clusters planted, titles and tags to extract). The
training run is matching.pipeline.train itself, what `tagmatch train` calls, with its stages
timed by wrapping the functions it calls; right after, in the same process, implicit's
AlternatingLeastSquares is fitted on the very matrix the final fit saw (same factors,
regularisation, iterations, confidence), the baseline of the final-fit ratio. The indexes are
the shipped default (IVF+SQ8 over MIPS-augmented vectors above index.exact_max; bench/ann_bench.py
compares the kinds). The serving worker is a fresh process that loads the saved artifact as
a serving process does (api.model_holder.load_for_serving: memory-mapped, then warmed), answers
recommendations and audiences, and reports its resident memory split into file-backed pages
(shared by every worker on the node) and its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faiss
import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

import matching.pipeline as pipeline
import matching.recommenders as recommenders
from bench.fresh_process import run_json
from bench.machine_stats import machine
from matching import ranking
from matching.artifact import save_model
from matching.config import ModelConfig
from matching.evaluate import time_holdout
from matching.index import VectorIndex
from matching.search import apply, restrict
from matching.synthetic import generate_catalogue

NIGHTLY_WINDOW_S = 2 * 3600
AUDIENCE_N = 1000


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """Peak resident memory between marks, sampled every 50 ms on a daemon thread."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def take(self) -> int:
        peak, self.peak = max(self.peak, rss_bytes()), rss_bytes()
        return peak


class Stages:
    """(name, seconds, peak RSS) in the order the training run went through them, and each
    stage's CPU seconds (all threads of the process) in `cpu`, by row."""

    def __init__(self, sampler: PeakSampler) -> None:
        self.sampler = sampler
        self.rows: list[tuple[str, float, int]] = []
        self.cpu: list[float] = []
        self.depth = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, cpu_started = time.perf_counter(), time.process_time()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            label = "  " * self.depth + name
            self.rows.append((label, time.perf_counter() - started, self.sampler.take()))
            self.cpu.append(time.process_time() - cpu_started)

    def wrap(self, module: Any, attribute: str, name: str) -> None:
        original: Callable[..., Any] = getattr(module, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return original(*args, **kwargs)

        timed.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(module, attribute, timed)


def raw_implicit_fit(confidence: Any, config: ModelConfig) -> tuple[float, float]:
    """implicit's ALS on the same confidence, as fit_als hands it over: the baseline.
    (wall seconds, CPU seconds of the process)."""
    scaled = confidence.astype(np.float32, copy=True)
    scaled.data = 1.0 + config.als.alpha * scaled.data
    started, cpu_started = time.perf_counter(), time.process_time()
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=config.als.factors,
            regularization=config.als.regularization,
            alpha=1.0,
            iterations=config.als.iterations,
            random_state=config.als.random_state,
            dtype=np.float32,
        )
        model.fit(scaled, show_progress=False)
    return time.perf_counter() - started, time.process_time() - cpu_started


def audiences(vectors: np.ndarray, queries: np.ndarray, index: VectorIndex) -> list[str]:
    """Top-1000 users per query: exact (chunked matmul) against the index, one query at a time."""
    faiss.omp_set_num_threads(1)  # one serving request = one thread
    started = time.perf_counter()
    truth = [index.exact(q[None, :], AUDIENCE_N)[0][0] for q in queries]
    exact_ms = (time.perf_counter() - started) * 1000 / len(queries)
    lines = [f"| exact (brute force) | — | 1.000 | {exact_ms:.1f} |"]
    for nprobe in (64, 128, 256, 512):
        config = index.config.model_copy(update={"ivf_nprobe": nprobe})
        probe = VectorIndex(vectors, index.index, config)
        started = time.perf_counter()
        found = [probe.search(q[None, :], AUDIENCE_N)[0][0] for q in queries]
        ms = (time.perf_counter() - started) * 1000 / len(queries)
        recall = np.mean(
            [
                len(set(f.tolist()) & set(t.tolist())) / AUDIENCE_N
                for f, t in zip(found, truth, strict=True)
            ]
        )
        lines.append(f"| {index.kind} | nprobe {nprobe} | {recall:.3f} | {ms:.1f} |")
    return lines


SERVING_WORKER = """
import json, sys, time, resource
import numpy as np
from api.model_holder import load_for_serving  # what a serving process does: mmap + warm
model = load_for_serving(__import__('pathlib').Path(sys.argv[1]))
rng = np.random.default_rng(0)
users = model.users.ids
items = model.items.ids
started = time.perf_counter()
for row in rng.integers(0, len(users), 200):
    model.recommend(users[int(row)], 10)
rec_ms = (time.perf_counter() - started) * 1000 / 200
started = time.perf_counter()
for row in rng.integers(0, len(items), 20):
    model.audience(items[int(row)], 1000)
aud_ms = (time.perf_counter() - started) * 1000 / 20
status = dict(
    line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line
)
kib = lambda key: int(status[key].split()[0]) * 1024
print(json.dumps({
    'peak_rss': kib('VmHWM'), 'rss': kib('VmRSS'), 'anon': kib('RssAnon'),
    'file': kib('RssFile'), 'recommend_ms': rec_ms, 'audience_ms': aud_ms,
}))
"""


def serving_worker(directory: Path) -> dict[str, float]:
    return run_json("-c", SERVING_WORKER, str(directory))


def fit_only(
    snapshot: Any, config: ModelConfig, stages: Stages, warm: bool, pairs: int = 0
) -> None:
    """The final fit alone, stage by stage, then raw implicit on its matrix (same process).

    The record tags (item keywords, declared tags: records only, no events) are built first
    and handed to the fit, as `train` builds them once before its search and fits; that
    build is timed on its own line, outside the final fit. warm: also build the tag space of
    the holdout's training part first (untimed in the ratio), as `train`'s evaluation does
    before its final fit. pairs: then fit the ALS step and the raw call again, alternating
    (raw, ALS step, ALS step, raw, ...), in this same process: whether the one-off ALS step
    against the one-off raw call is the code or the moment (bench/als_ab.py does it in fresh
    processes)."""
    with stages.stage("record tags (once per training run, before its fits)"):
        records = pipeline.record_tags(snapshot, config.tags)
    if warm:
        train_mask, _ = time_holdout(snapshot.events, config.eval)
        with stages.stage("warm-up: tag space of the holdout's training part"):
            part = restrict(snapshot, train_mask)
            pipeline.build_tagspace(part, config.tags, config.events, records=records)
    stages.wrap(pipeline, "build_tagspace", "tag space")
    stages.wrap(recommenders, "fit_als", "ALS (implicit)")
    stages.wrap(recommenders, "build_hybrid", "hybrid vectors + cold-start maps")
    with stages.stage("fit_snapshot"):
        fitted = pipeline.fit_snapshot(snapshot, config, records=records)
    sampler = stages.sampler
    raw_s, raw_cpu = raw_implicit_fit(fitted.confidence, config)
    print("| stage | seconds | / raw implicit | CPU s | CPU / raw's CPU | peak RSS in stage |")
    print("|---|---|---|---|---|---|")
    for (name, seconds, peak), cpu in zip(stages.rows, stages.cpu, strict=True):
        print(
            f"| {name.strip()} | {seconds:.1f} | {seconds / raw_s:.2f}x | {cpu:.1f} | "
            f"{cpu / raw_cpu:.2f}x | {gib(peak)} |"
        )
    raw_row = f"{raw_s:.1f} | 1.00x | {raw_cpu:.1f} | 1.00x | {gib(sampler.take())}"
    print(f"| raw implicit ALS, same matrix | {raw_row} |")
    names = [name.strip() for name, _, _ in stages.rows]
    fit, als = names.index("fit_snapshot"), names.index("ALS (implicit)")
    for unit, spent, raw in (
        ("wall", [r[1] for r in stages.rows], raw_s),
        ("CPU", stages.cpu, raw_cpu),
    ):
        rest = (spent[fit] - spent[als]) / raw
        print(
            f"{unit}: final fit / raw implicit {spent[fit] / raw:.2f}x; what is not ALS "
            f"{rest:.2f}x; with the ALS step counted at 1.00x (the same library call) "
            f"{1 + rest:.2f}x"
        )
    if pairs:
        alternate(fitted.confidence, config, pairs)
    print(f"load average at end: {os.getloadavg()}")


def alternate(confidence: Any, config: ModelConfig, pairs: int) -> None:
    """The ALS step (matching.als.fit_als) and the raw call in ABBA order, CPU seconds."""
    fit_als = recommenders.fit_als.__wrapped__  # the function, not the timed stage wrapper
    spent: dict[str, list[float]] = {"raw": [], "ALS step": []}
    for pair in range(pairs):
        for side in ("raw", "ALS step") if pair % 2 == 0 else ("ALS step", "raw"):
            if side == "raw":
                cpu = raw_implicit_fit(confidence, config)[1]
            else:
                cpu_started = time.process_time()
                fit_als(confidence, config.als)
                cpu = time.process_time() - cpu_started
            spent[side].append(cpu)
            print(f"pair {pair + 1}: {side} {cpu:.1f} CPU s", flush=True)
    ratios = [a / r for a, r in zip(spent["ALS step"], spent["raw"], strict=True)]
    print(
        f"same process, alternating: ALS step / raw, per pair {min(ratios):.3f}x to "
        f"{max(ratios):.3f}x, sums {sum(spent['ALS step']) / sum(spent['raw']):.3f}x"
    )


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--queries", type=int, default=50, help="audience queries timed")
    parser.add_argument("--no-evaluate", action="store_true", help="final fit only")
    parser.add_argument(
        "--fit-only",
        action="store_true",
        help="only fit_snapshot (tag space, ALS, hybrid) against raw implicit: the ratio",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="with --fit-only: build the holdout part's tag space first, as train does",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="with --fit-only: then the ALS step and the raw call again, alternating, N pairs",
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="keep the artifact here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="change one setting of the defaults (repeatable), e.g. ranking.sequence_window=0",
    )
    args = parser.parse_args()
    sampler = PeakSampler()
    stages = Stages(sampler)
    config = apply(ModelConfig(), dict(item.split("=", 1) for item in args.set))
    if args.set:
        print(f"settings changed: {', '.join(args.set)}")
    print(f"# scale bench: {args.users} users x {args.items} items x {args.events} events\n")
    print(f"machine: {machine()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average at start: {os.getloadavg()}\n")

    with stages.stage("generate synthetic catalogue"):
        catalogue = generate_catalogue(
            args.users, args.items, args.events, seed=0, clusters=args.clusters
        )
    with stages.stage("to snapshot"):
        snapshot = catalogue.to_snapshot()
    del catalogue

    if args.fit_only:
        fit_only(snapshot, config, stages, args.warm, args.pairs)
        return
    stages.wrap(pipeline, "_evaluate", "evaluation (search, holdout fit, cold-item fit, scoring)")
    stages.wrap(pipeline, "search", "model search (validation fits)")
    stages.wrap(pipeline, "served_metrics", "holdout scoring through recommend")
    stages.wrap(pipeline, "audience_metrics", "cold-item audience scoring")
    stages.wrap(pipeline, "record_tags", "record tags (once per run)")
    stages.wrap(pipeline, "fit_snapshot", "fit_snapshot")
    stages.wrap(pipeline, "build_tagspace", "tag space")
    stages.wrap(pipeline, "confidence_matrix", "confidence matrix")
    stages.wrap(recommenders, "fit_als", "ALS (implicit)")
    stages.wrap(recommenders, "build_hybrid", "hybrid vectors + cold-start maps")
    stages.wrap(pipeline.VectorIndex, "build", "index build")
    stages.wrap(ranking, "fit_sequence", "sequence model (ranking stage)")
    stages.wrap(pipeline, "precompute", "stored answers (precompute)")
    train_started = time.perf_counter()
    with stages.stage("train (tagmatch train's pipeline.train)"):
        model = pipeline.train(snapshot, config, version="scale", evaluate=not args.no_evaluate)
    train_s = time.perf_counter() - train_started
    final_als = [s for name, s, _ in stages.rows if name.strip() == "ALS (implicit)"][-1]
    final_fit = [s for name, s, _ in stages.rows if name.strip() == "fit_snapshot"][-1]
    train_peak = max(peak for _, _, peak in stages.rows)

    confidence = pipeline.confidence_matrix(
        snapshot.events, snapshot.n_users, snapshot.n_items, config.events, snapshot.now
    )
    raw_s, _ = raw_implicit_fit(confidence, config)

    print("| stage | seconds | peak RSS so far in stage |")
    print("|---|---|---|")
    for name, seconds, peak in stages.rows:
        print(f"| {name.replace('  ', '· ')} | {seconds:.1f} | {gib(peak)} |")
    print(f"\ntrain total {train_s:.1f} s, peak RSS of training {gib(train_peak)}")
    print(
        f"final fit: ALS step {final_als:.1f} s, whole fit_snapshot {final_fit:.1f} s; "
        f"raw implicit ALS on the same matrix {raw_s:.1f} s -> ALS ratio "
        f"{final_als / raw_s:.2f}x, whole final fit ratio {final_fit / raw_s:.2f}x"
    )
    budget = NIGHTLY_WINDOW_S - train_s
    print(
        f"nightly window {NIGHTLY_WINDOW_S} s: {budget:.0f} s left after this run = "
        f"{int(budget // final_fit)} search trials of one full fit each "
        f"(one fit = {final_fit:.0f} s)"
    )

    rng = np.random.default_rng(1)
    queries = model.item_vectors[rng.integers(0, snapshot.n_items, args.queries)]
    print(f"\n## audience top-{AUDIENCE_N} over {snapshot.n_users} users, {args.queries} queries\n")
    print("| search | setting | recall@1000 vs exact | ms per query |")
    print("|---|---|---|---|")
    for line in audiences(model.user_vectors, queries, model.user_index):
        print(line)

    with tempfile.TemporaryDirectory(prefix="tagmatch-scale-") as tmp:
        directory = args.model_dir or Path(tmp) / "scale"
        started = time.perf_counter()
        save_model(model, directory)
        print(f"\nartifact saved in {time.perf_counter() - started:.1f} s; files:")
        for path in sorted(directory.iterdir(), key=lambda p: -p.stat().st_size):
            print(f"  {path.name}: {path.stat().st_size / 2**20:.1f} MiB")
        del model, snapshot, confidence
        worker = serving_worker(directory)
    print(
        f"serving worker: peak RSS {gib(worker['peak_rss'])}, now {gib(worker['rss'])} = "
        f"{gib(worker['file'])} file-backed (memory-mapped artifact, shared between workers) + "
        f"{gib(worker['anon'])} private; recommend {worker['recommend_ms']:.1f} ms, "
        f"audience top-1000 {worker['audience_ms']:.1f} ms per call"
    )


if __name__ == "__main__":
    main()
