"""Tag space benchmark: predicted age band / gender accuracy on ml-100k, build times.

(a) ml-100k: hide age and gender of a seeded random 20% of users, build the tag space with
    threshold 0, and score the predictions of the hidden users against their true tags,
    next to the majority class of the users who kept theirs. Reported at the configured
    threshold (accuracy on the users predicted, coverage = share predicted) and at 0.
(b) wall time of build_tagspace on ml-100k and on a synthetic catalogue.

    .venv/bin/python bench/tags_bench.py [--ml100k DIR] [--users 1000000 --items 50000
        --events 10000000] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.ml100k import ml100k_path
from matching.config import EventConfig, TagConfig
from matching.data import Snapshot, UserRecord
from matching.datasets import load_movielens_100k
from matching.tagging import NS_AGE, NS_GENDER, attribute_tags
from matching.tagspace import build_tagspace

HIDDEN_KEYS = ("age", "gender")


def _truth(user: UserRecord, namespace: str) -> str:
    return next(t for t in attribute_tags(user.attributes) if t.startswith(namespace + ":"))


def prediction_accuracy(
    snapshot: Snapshot, config: TagConfig, hide_share: float, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    hidden = np.sort(
        rng.choice(snapshot.n_users, round(hide_share * snapshot.n_users), replace=False)
    )
    hidden_set = set(hidden.tolist())
    users = [
        dataclasses.replace(
            u, attributes={k: v for k, v in u.attributes.items() if k not in HIDDEN_KEYS}
        )
        if row in hidden_set
        else u
        for row, u in enumerate(snapshot.users)
    ]
    masked = Snapshot(users=users, items=snapshot.items, events=snapshot.events, now=snapshot.now)
    start = time.perf_counter()
    space = build_tagspace(
        masked, config.model_copy(update={"predict_min_confidence": 0.0}), EventConfig()
    )
    build_seconds = time.perf_counter() - start
    predicted = space.user_predicted
    result: dict[str, Any] = {
        "hidden_users": len(hidden),
        "threshold": config.predict_min_confidence,
        "build_seconds_with_prediction": round(build_seconds, 2),
    }
    for namespace in (NS_AGE, NS_GENDER):
        truth = [_truth(snapshot.users[r], namespace) for r in hidden]
        kept = [_truth(u, namespace) for r, u in enumerate(snapshot.users) if r not in hidden_set]
        majority = Counter(kept).most_common(1)[0][0]
        guess: list[str | None] = []
        confidence = np.zeros(len(hidden))
        for i, row in enumerate(hidden):
            lo, hi = predicted.indptr[row], predicted.indptr[row + 1]
            names = space.tags.lookup(predicted.indices[lo:hi])
            mine = [
                (c, n)
                for c, n in zip(predicted.data[lo:hi], names, strict=True)
                if n.startswith(namespace + ":")
            ]
            guess.append(mine[0][1] if mine else None)
            confidence[i] = mine[0][0] if mine else 0.0
        correct = np.array([g == t for g, t in zip(guess, truth, strict=True)])
        above = confidence >= config.predict_min_confidence
        result[namespace] = {
            "classes": len(set(kept)),
            "majority_class": majority,
            "majority_baseline_accuracy": round(float(np.mean([t == majority for t in truth])), 4),
            "accuracy_all": round(float(correct.mean()), 4),
            "coverage_all": round(float(np.mean([g is not None for g in guess])), 4),
            "accuracy_at_threshold": round(float(correct[above].mean()), 4)
            if above.any()
            else None,
            "coverage_at_threshold": round(float(above.mean()), 4),
        }
    return result


def timed_build(snapshot: Snapshot, config: TagConfig) -> dict[str, Any]:
    start = time.perf_counter()
    space = build_tagspace(snapshot, config, EventConfig())
    seconds = time.perf_counter() - start
    return {
        "users": snapshot.n_users,
        "items": snapshot.n_items,
        "events": len(snapshot.events),
        "tags": len(space.tags),
        "seconds": round(seconds, 2),
        "behavioural_nnz": int(space.user_behavioural.nnz),
        "predicted_users": int((space.user_predicted.getnnz(axis=1) > 0).sum()),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ml100k", type=Path, default=None)
    parser.add_argument("--hide", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    config = TagConfig()
    report: dict[str, Any] = {}

    path = args.ml100k or ml100k_path()
    if path is None:
        report["ml100k"] = "skipped: ml-100k not found (pass --ml100k or set TAGMATCH_ML100K)"
    else:
        snapshot = load_movielens_100k(path).to_snapshot()
        report["ml100k_prediction"] = prediction_accuracy(snapshot, config, args.hide, args.seed)
        for label, update in (
            ("interest_tags_only", {"predict_use_items": False, "predict_use_declared": False}),
            ("tags_and_items", {"predict_use_declared": False}),
        ):
            ablation = prediction_accuracy(
                snapshot, config.model_copy(update=update), args.hide, args.seed
            )
            report[f"ml100k_prediction_{label}"] = {ns: ablation[ns] for ns in (NS_AGE, NS_GENDER)}
        report["ml100k_build"] = timed_build(snapshot, config)

    if not args.skip_synthetic:
        from matching.synthetic import generate_catalogue

        start = time.perf_counter()
        catalogue = generate_catalogue(args.users, args.items, args.events, seed=args.seed)
        snapshot = catalogue.to_snapshot()
        report["synthetic_generate_seconds"] = round(time.perf_counter() - start, 2)
        report["synthetic_build"] = timed_build(snapshot, config)

    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
