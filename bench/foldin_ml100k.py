"""Do fresh events change the answer? Fold-in on MovieLens 100K (issue 11, item 3).

Protocol:
  * Each user's ratings in time order (ties by file order): the first 80% are in the model's
    snapshot, the next 10% arrive after training ("recent", handed to the model as
    RecentEvents, as the live state does), the last 10% are the test.
  * The model is trained by matching.pipeline.train, what `tagmatch train` runs, with the
    default ModelConfig (ALS seed = the run's seed), on a Snapshot of the 80% parts.
  * Every known user with test events is answered three ways, all excluding what they saw in
    the snapshot: `stale` (the snapshot model, recent items not even excluded), `excluded`
    (recent items excluded, the vector unchanged: what serving did before fold-in) and
    `folded` (recommend(recent_events=...): the vector re-solved from snapshot + recent).
    The ceiling `retrained` is a second model trained on the 80% + 10% parts.
  * New users: a seeded 10% of users are left out of the snapshot altogether; their first
    90% arrive as recent events. Without fold-in they get the cold-start answer from their
    declared attributes; with it, a personal one.
  * nDCG@10 (binary gains) over the users with test events; several seeds (the ALS seed and
    the choice of new users change), mean and standard deviation, and per seed the paired
    difference folded - excluded.
  * Cost: per call, recommend with recent_events against the plain recommend (recent items
    passed as exclusions), same users, interleaved, same process; and the fold-in step alone.

    .venv/bin/python bench/foldin_ml100k.py [--ml100k DIR] [--seeds 0 1 2] [--factors 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy.sparse as sp

from bench.machine_stats import machine
from matching.config import ALSConfig, ModelConfig
from matching.datasets import Catalogue, EventRecord, load_movielens_100k, movielens_path
from matching.evaluate import ranking_metrics
from matching.foldin import RecentEvents
from matching.model import TrainedModel
from matching.pipeline import train

K = 10
SNAPSHOT_SHARE, RECENT_SHARE = 0.8, 0.1
NEW_USER_SHARE = 0.1


@dataclass
class Split:
    snapshot: list[EventRecord]  # known users' first 80%
    recent: dict[str, list[EventRecord]]  # per user, oldest first
    test: dict[str, list[EventRecord]]
    new_users: set[str]


def split(catalogue: Catalogue, seed: int) -> Split:
    by_user: dict[str, list[tuple[float, int, EventRecord]]] = defaultdict(list)
    for position, event in enumerate(catalogue.events):
        by_user[event.user_id].append((event.ts, position, event))
    users = sorted(by_user)
    rng = np.random.default_rng(seed)
    new_users = set(rng.choice(users, size=round(NEW_USER_SHARE * len(users)), replace=False))
    out = Split([], {}, {}, {str(u) for u in new_users})
    for user in users:
        events = [e for _, _, e in sorted(by_user[user], key=lambda t: t[:2])]
        first = int(SNAPSHOT_SHARE * len(events))
        second = int((SNAPSHOT_SHARE + RECENT_SHARE) * len(events))
        if user in out.new_users:
            out.recent[user] = events[:second]
        else:
            out.snapshot += events[:first]
            out.recent[user] = events[first:second]
        out.test[user] = events[second:]
    return out


def recent_events(events: list[EventRecord]) -> RecentEvents:
    return RecentEvents(
        item_ids=[e.item_id for e in events],
        types=[e.type for e in events],
        values=[e.value for e in events],
        ts=[e.ts for e in events],
    )


def ndcg(model: TrainedModel, answers: dict[str, list[str]], test: dict[str, list[str]]) -> float:
    users = sorted(answers)
    top = np.full((len(users), K), -1, np.int64)
    for i, user in enumerate(users):
        rows = model.item_rows(answers[user])
        top[i, : len(rows)] = rows
    cols = [model.item_rows(test[u]) for u in users]
    truth = sp.csr_matrix(
        (
            np.ones(sum(len(c) for c in cols), np.float32),
            (np.repeat(np.arange(len(users)), [len(c) for c in cols]), np.concatenate(cols)),
        ),
        shape=(len(users), len(model.items)),
    )
    return ranking_metrics(top, truth, len(model.items))[f"ndcg@{K}"]


def ids(answer) -> list[str]:
    return [scored.id for scored in answer.items]


def run_seed(catalogue: Catalogue, seed: int, factors: int) -> dict[str, float]:
    parts = split(catalogue, seed)
    config = ModelConfig(als=ALSConfig(factors=factors, random_state=seed))
    known = [u for u in catalogue.users if u.id not in parts.new_users]
    attributes = {u.id: u.attributes for u in catalogue.users}
    snapshot = Catalogue(known, catalogue.items, parts.snapshot).to_snapshot()
    started = time.perf_counter()
    model = train(snapshot, config, version=f"foldin-{seed}", evaluate=False).warm()
    train_s = time.perf_counter() - started
    later = parts.snapshot + [
        e for u in parts.recent if u not in parts.new_users for e in parts.recent[u]
    ]
    retrained = train(
        Catalogue(known, catalogue.items, later).to_snapshot(), config, evaluate=False
    ).warm()

    test = {u: [e.item_id for e in events] for u, events in parts.test.items() if events}
    warm_users = [u.id for u in known if u.id in test]
    recent = {u: recent_events(parts.recent[u]) for u in test}
    answers: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for user in warm_users:
        seen_later = list(recent[user].item_ids)
        answers["stale"][user] = ids(model.recommend(user, K))
        answers["excluded"][user] = ids(model.recommend(user, K, exclude_item_ids=seen_later))
        answers["folded"][user] = ids(model.recommend(user, K, recent_events=recent[user]))
        answers["retrained"][user] = ids(retrained.recommend(user, K))
    strategies: dict[str, int] = defaultdict(int)
    for user in sorted(parts.new_users & set(test)):
        seen_later = list(recent[user].item_ids)
        cold = model.recommend(user, K, attributes=attributes[user], exclude_item_ids=seen_later)
        folded = model.recommend(user, K, attributes=attributes[user], recent_events=recent[user])
        strategies[f"{cold.strategy}->{folded.strategy}"] += 1
        answers["new: cold start"][user] = ids(cold)
        answers["new: folded"][user] = ids(folded)
    result = {name: ndcg(model, a, test) for name, a in answers.items()}
    result |= {"train_s": train_s, "warm_users": len(warm_users)}
    result |= {f"strategy {k}": v for k, v in strategies.items()}
    result |= timing(model, warm_users, recent)
    return result


def timing(
    model: TrainedModel, users: list[str], recent: dict[str, RecentEvents], rounds: int = 3
) -> dict[str, float]:
    """Median per-call seconds, interleaved so that load from other work hits all alike."""
    plain: list[float] = []
    folded: list[float] = []
    fold_only: list[float] = []
    state = model.foldin()
    for _ in range(rounds):
        for user in users:
            events = recent[user]
            row = model.users.index(user)
            exclusions = list(events.item_ids)
            t0 = time.perf_counter()
            model.recommend(user, K, exclude_item_ids=exclusions)
            t1 = time.perf_counter()
            model.recommend(user, K, recent_events=events)
            t2 = time.perf_counter()
            state.fold(row, events)
            t3 = time.perf_counter()
            plain.append(t1 - t0)
            folded.append(t2 - t1)
            fold_only.append(t3 - t2)
    return {
        "recommend_us": 1e6 * statistics.median(plain),
        "recommend_folded_us": 1e6 * statistics.median(folded),
        "fold_step_us": 1e6 * statistics.median(fold_only),
        "recommend_p99_us": 1e6 * float(np.percentile(plain, 99)),
        "recommend_folded_p99_us": 1e6 * float(np.percentile(folded, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ml100k", type=Path, default=movielens_path())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factors", type=int, default=ALSConfig().factors)
    args = parser.parse_args()
    if args.ml100k is None or not (args.ml100k / "u.data").is_file():
        sys.exit("ml-100k not found: pass --ml100k DIR or set TAGMATCH_ML100K")
    catalogue = load_movielens_100k(args.ml100k)
    print(f"machine: {machine()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"factors {args.factors}, seeds {args.seeds}\n")
    runs = []
    for seed in args.seeds:
        result = run_seed(catalogue, seed, args.factors)
        runs.append(result)
        print(
            f"seed {seed}: "
            + ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
            )
        )
    print("\n| answer | nDCG@10 mean | sd | per seed |\n|---|---|---|---|")
    for name in ("stale", "excluded", "folded", "retrained", "new: cold start", "new: folded"):
        values = [r[name] for r in runs]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        cells = " / ".join(f"{v:.4f}" for v in values)
        print(f"| {name} | {statistics.mean(values):.4f} | {sd:.4f} | {cells} |")
    gains = [r["folded"] - r["excluded"] for r in runs]
    new_gains = [r["new: folded"] - r["new: cold start"] for r in runs]
    print(f"\npaired folded - excluded per seed: {' / '.join(f'{g:+.4f}' for g in gains)}")
    print(f"paired new users folded - cold start: {' / '.join(f'{g:+.4f}' for g in new_gains)}")
    print(
        "\n| per call (median µs) | plain recommend | recommend + fold-in | fold-in step | ratio |"
    )
    print("|---|---|---|---|---|")
    for seed, r in zip(args.seeds, runs, strict=True):
        ratio = r["recommend_folded_us"] / r["recommend_us"]
        print(
            f"| seed {seed} | {r['recommend_us']:.0f} | {r['recommend_folded_us']:.0f} | "
            f"{r['fold_step_us']:.0f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
