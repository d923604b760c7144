"""Segment benchmark: evaluate a 5-clause rule over 1M synthetic users; ml-100k persona.

(a) A synthetic tag space of --users users (declared attributes, ~20 behavioural interest
    tags per user, predictions, lifecycle/RFM) and an EventLog of --events events. Timed:
    parse; cold evaluation (fresh SegmentContext: CSC copies of the matrices it reads and
    the event counts are built inside the timing); warm evaluation (same context, caches
    hit); warm matrices with a new event window. Medians of --repeats runs. Baseline: the
    per-user Python evaluator of the tests (tests/matching/segment_reference.py) over 10k
    users drawn at random, extrapolated linearly to all users; building its per-user dicts
    is not timed, so the baseline is flattered.
(b) --ml100k: persona report of `gender = 'f' and age_band = '25-34'` on MovieLens 100K.

    .venv/bin/python bench/segments_bench.py [--users 1000000 --events 10000000] [--ml100k [DIR]]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The per-user reference evaluator of the tests is the baseline.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "matching"))

import numpy as np
import scipy.sparse as sp

from matching.data import SECONDS_PER_DAY, EventLog
from matching.persona import format_report_tables, persona_report
from matching.segments import SegmentContext, evaluate, parse_rule, referenced_tags
from matching.tagspace import LIFECYCLE_STAGES, TagSpace
from matching.vocabulary import Vocabulary

RULE = (
    "age_band in ['25-34', '35-44'] and (region = '上海' or tag('kw:瑜伽') >= 0.2)"
    " and life != 'churned' and events('purchase', days=30) >= 1"
)
ATTRIBUTES = {
    "age": ["under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
    "gender": ["f", "m"],
    "region": ["上海", "北京", "广州", "深圳", "杭州", *[f"city{k}" for k in range(25)]],
    "income": ["<5k", "5k-10k", "10k-20k", "20k+"],
    "occupation": [f"job{k}" for k in range(20)],
    "edu": ["high-school", "bachelor", "master", "phd"],
}


def _zipf_choice(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    """Popular-first choice of `size` values in [0, n): interests are skewed, not uniform."""
    weights = 1.0 / np.arange(1, n + 1) ** a
    return rng.choice(n, size=size, p=weights / weights.sum())


def synthetic(
    n_users: int, n_items: int, n_events: int, interest_tags: int, seed: int = 7
) -> tuple[TagSpace, EventLog, float]:
    rng = np.random.default_rng(seed)
    names = [f"{ns}:{v}" for ns, values in ATTRIBUTES.items() for v in values]
    interests = ["kw:瑜伽", *[f"kw:t{k}" for k in range(interest_tags - 1)]]
    offset = len(names)
    system = [f"life:{s}" for s in LIFECYCLE_STAGES] + [
        f"rfm:{b}{k}" for b in "rfm" for k in range(1, 6)
    ]
    tags = Vocabulary.from_list(names + interests + system)
    n_tags = len(tags)

    rows, cols = [], []
    start = 0
    for values in ATTRIBUTES.values():  # each user declares each attribute with p = 0.7
        users = np.flatnonzero(rng.random(n_users) < 0.7)
        rows.append(users)
        cols.append(start + _zipf_choice(rng, len(values), len(users), 0.8))
        start += len(values)
    declared = _csr(np.concatenate(rows), np.concatenate(cols), None, n_users, n_tags)

    per_user = 20
    b_rows = np.repeat(np.arange(n_users), per_user)
    b_cols = offset + _zipf_choice(rng, len(interests), n_users * per_user)
    behavioural = _csr(b_rows, b_cols, rng.random(len(b_rows)) * 0.5, n_users, n_tags)

    guessed = np.flatnonzero(rng.random(n_users) < 0.3)
    gender_col = tags.index("gender:f") or 0
    predicted = _csr(
        guessed,
        gender_col + rng.integers(0, 2, len(guessed)),
        0.6 + 0.4 * rng.random(len(guessed)),
        n_users,
        n_tags,
    )
    lifecycle = rng.integers(0, 4, n_users).astype(np.int8)
    rfm = rng.integers(0, 6, (n_users, 3)).astype(np.int8)
    life_col = tags.index("life:new") or 0
    system_matrix = _csr(
        np.arange(n_users), life_col + lifecycle.astype(np.int64), None, n_users, n_tags
    )

    i_rows = np.repeat(np.arange(n_items), 8)
    i_cols = offset + _zipf_choice(rng, len(interests), n_items * 8)
    item_tags = _csr(i_rows, i_cols, rng.random(len(i_rows)), n_items, n_tags)
    tagspace = TagSpace(
        tags=tags,
        item_tags=item_tags,
        user_declared=declared,
        user_behavioural=behavioural,
        user_predicted=predicted,
        user_system=system_matrix,
        lifecycle=lifecycle,
        rfm=rfm,
    )
    now = 1_700_000_000.0
    events = EventLog(
        # Active users spread over all rows, so any sample of rows is representative.
        user=rng.permutation(n_users)[_zipf_choice(rng, n_users, n_events, 0.6)].astype(np.int32),
        item=_zipf_choice(rng, n_items, n_events, 0.9).astype(np.int32),
        type_code=rng.choice(4, n_events, p=[0.7, 0.2, 0.05, 0.05]).astype(np.int16),
        value=np.zeros(n_events, np.float32),
        ts=now - rng.random(n_events) * 180 * SECONDS_PER_DAY,
        type_names=["view", "click", "purchase", "like"],
    )
    return tagspace, events, now


def _csr(
    rows: np.ndarray,
    cols: np.ndarray,
    data: np.ndarray | None,
    n_rows: int,
    n_cols: int,
) -> sp.csr_matrix:
    values = np.ones(len(rows), np.float32) if data is None else data.astype(np.float32)
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(n_rows, n_cols))
    matrix.sum_duplicates()
    return matrix


def _median_seconds(run: Callable[[int], object], repeats: int) -> float:
    times = []
    for attempt in range(repeats):
        start = time.perf_counter()
        run(attempt)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    from segment_reference import (  # tests/matching, on sys.path above
        item_views,
        matches,
        user_views,
    )

    start = time.perf_counter()
    tagspace, events, now = synthetic(args.users, args.items, args.events, args.interest_tags)
    build_s = time.perf_counter() - start
    parse_s = _median_seconds(lambda _: parse_rule(RULE), 50)
    rule = parse_rule(RULE)

    def cold(_: int) -> np.ndarray:
        return evaluate(rule, SegmentContext.build(tagspace, events, now))

    warm_context = SegmentContext.build(tagspace, events, now)
    mask = evaluate(rule, warm_context)
    cold_s = _median_seconds(cold, args.repeats)
    warm_s = _median_seconds(lambda _: evaluate(rule, warm_context), args.repeats)
    windows = [parse_rule(RULE.replace("days=30", f"days={31 + k}")) for k in range(args.repeats)]
    new_window_s = _median_seconds(lambda k: evaluate(windows[k], warm_context), args.repeats)

    sample = min(args.baseline_users, args.users)
    rows = np.sort(np.random.default_rng(1).choice(args.users, sample, replace=False))
    sample_events = events.subset(np.isin(events.user, rows))
    views = user_views(tagspace, sample_events, rows.tolist())
    items = item_views(tagspace)
    start = time.perf_counter()
    reference = np.array([matches(rule.root, v, items, now) for v in views])
    loop_s = time.perf_counter() - start
    if not np.array_equal(reference, mask[rows]):
        raise AssertionError("vectorised and per-user evaluation disagree")
    extrapolated = loop_s * args.users / sample
    item_ids = [f"item{k}" for k in range(args.items)]
    start = time.perf_counter()
    persona_report(mask, tagspace, events, item_ids, exclude_tags=referenced_tags(rule))
    report_s = time.perf_counter() - start
    return {
        "users": args.users,
        "events": args.events,
        "nnz": {
            "declared": int(tagspace.user_declared.nnz),
            "behavioural": int(tagspace.user_behavioural.nnz),
        },
        "rule": RULE,
        "members": int(mask.sum()),
        "synthetic_build_s": round(build_s, 2),
        "parse_ms": round(parse_s * 1e3, 3),
        "evaluate_cold_s": round(cold_s, 4),
        "evaluate_warm_s": round(warm_s, 4),
        "evaluate_new_window_s": round(new_window_s, 4),
        "per_user_python_sample": sample,
        "per_user_python_sample_s": round(loop_s, 3),
        "per_user_python_extrapolated_s": round(extrapolated, 1),
        "speed_up_vs_cold": round(extrapolated / cold_s, 1),
        "speed_up_vs_warm": round(extrapolated / warm_s, 1),
        "persona_report_s": round(report_s, 2),
    }


def bench_ml100k(path: str | None) -> str:
    from bench.ml100k import ml100k_path
    from matching.config import EventConfig, TagConfig
    from matching.datasets import load_movielens_100k
    from matching.tagspace import build_tagspace

    directory = Path(path) if path else ml100k_path()
    if directory is None or not (directory / "u.data").is_file():
        raise SystemExit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    snapshot = load_movielens_100k(directory).to_snapshot()
    tagspace = build_tagspace(snapshot, TagConfig(), EventConfig())
    context = SegmentContext.build(tagspace, snapshot.events, snapshot.now)
    rule = parse_rule("gender = 'f' and age_band = '25-34'")
    others = {
        name: evaluate(parse_rule(text), context)
        for name, text in {
            "women": "gender = 'f'",
            "men 25-34": "gender = 'm' and age_band = '25-34'",
            "age 25-34": "age_band = '25-34'",
        }.items()
    }
    report = persona_report(
        evaluate(rule, context),
        tagspace,
        snapshot.events,
        snapshot.item_vocab,
        other_segments=others,
        exclude_tags=referenced_tags(rule),
    )
    titles = {item.id: item.title for item in snapshot.items}
    for item in report["top_items"]:
        item["item_id"] = f"{item['item_id']} {titles[item['item_id']][:28]}"
    everything = persona_report(
        evaluate(rule, context),
        tagspace,
        snapshot.events,
        snapshot.item_vocab,
        top_tags=len(tagspace.tags),
        min_count=1,
    )
    genres = [
        t
        for t in everything["top_tags_by_weight"]
        if t["tag"].startswith("genre:") and t["source"] == "behavioural"
    ]
    lines = [
        "genres by weight lift (behavioural interest, mean weight members vs all users)",
        f"{'genre':<20} {'mean in seg':>11} {'mean all':>9} {'weight lift':>11}"
        f" {'holders in seg':>14} {'share lift':>10}",
    ]
    for t in genres:
        lines.append(
            f"{t['tag']:<20} {t['segment_mean_weight']:>11.4f} {t['overall_mean_weight']:>9.4f}"
            f" {t['weight_lift']:>11.3f} {t['segment_count']:>14} {t['lift']:>10.3f}"
        )
    text = f"rule: {rule.text}\n\n" + format_report_tables(report)
    return text + "\n" + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--interest-tags", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-users", type=int, default=10_000)
    parser.add_argument("--ml100k", nargs="?", const="", default=None, metavar="DIR")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_synthetic:
        print(json.dumps(bench_synthetic(args), indent=2, ensure_ascii=False))
    if args.ml100k is not None:
        print(bench_ml100k(args.ml100k or None))


if __name__ == "__main__":
    main()
