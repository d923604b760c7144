"""The attribute classifier (matching/tag_prediction.py) fitted on samples of different sizes:
accuracy on held-out declared users and agreement with the largest fit, against fit time.

    .venv/bin/python bench/predict_sampling_bench.py --users 200000 --items 20000 --events 1000000

On the synthetic catalogue (matching.synthetic, 8 clusters), the tag space as `build_tagspace`
makes it. Per predicted namespace: a seeded 10 000 of the users who declared it are held out
(their declared tag is the truth); each training size is drawn from the others with
`training_sample`, as predict_tags draws it; every fit is the same LogisticRegression on the
same features, except where the table gives another lbfgs max_iter. "agrees" = same top class
as the reference fit (50 000 rows, max_iter 200: the defaults before issue 16's third pass),
on the held-out users and on the users predict_tags really predicts (who did not declare).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from bench.machine_stats import machine
from matching.config import ModelConfig
from matching.synthetic import generate_catalogue
from matching.tag_prediction import (
    PredictionFeatures,
    namespace_columns,
    row_argmax,
    training_sample,
)
from matching.tagspace import build_tagspace, interaction_weights

HELD_OUT = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--fits",
        nargs="+",
        default=["2000:200", "5000:200", "10000:50", "10000:100", "10000:200", "20000:200"],
        help="training rows:lbfgs max_iter of each fit; 50000:200 (the old default) is added",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)  # as predict_tags does
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average at start: {os.getloadavg()}")
    config = ModelConfig()
    tags = config.tags
    snapshot = generate_catalogue(
        args.users, args.items, args.events, seed=0, clusters=8
    ).to_snapshot()
    space = build_tagspace(
        snapshot, tags.model_copy(update={"predict_namespaces": ()}), config.events
    )
    interactions = interaction_weights(snapshot, tags, config.events)
    declared = space.user_declared
    ns_of = namespace_columns(space.tags, declared.shape[1])
    features = PredictionFeatures(declared, space.user_behavioural, interactions, ns_of, tags)
    print(
        f"{args.users} users x {args.items} items x {args.events} events; "
        f"threshold {tags.predict_min_confidence}\n"
    )
    print(
        "| namespace | train rows, max_iter | fit s | accuracy (held out) "
        "| at threshold: accuracy / coverage "
        "| agrees with largest (held out / undeclared) |"
    )
    print("|---|---|---|---|---|---|")
    for namespace in tags.predict_namespaces:
        ns_cols = np.flatnonzero(ns_of == namespace)
        best = row_argmax(declared[:, ns_cols])
        label = ns_cols[np.maximum(best, 0)]
        rng = np.random.default_rng(1)
        declared_rows = np.flatnonzero((best >= 0) & features.has_any)
        held = training_sample(declared_rows, HELD_OUT, rng)
        pool = np.setdiff1d(declared_rows, held)
        undeclared = np.flatnonzero((best < 0) & features.has_any)
        x_held, x_undeclared = features.rows(held), features.rows(undeclared)
        majority = np.bincount(label[pool]).argmax()
        print(f"| {namespace} | majority class | — | {np.mean(label[held] == majority):.3f} | | |")
        results = []
        fits = sorted({tuple(int(x) for x in f.split(":")) for f in [*args.fits, "50000:200"]})
        fits.remove((50_000, 200))
        for size, max_iter in [*fits, (50_000, 200)]:  # the reference last
            train = training_sample(pool, size, np.random.default_rng(0))
            model = LogisticRegression(C=tags.predict_c, max_iter=max_iter)
            started = time.perf_counter()
            model.fit(features.rows(train), label[train])
            seconds = time.perf_counter() - started
            proba = model.predict_proba(x_held)
            top = model.classes_[proba.argmax(axis=1)]
            sure = proba.max(axis=1) >= tags.predict_min_confidence
            undeclared_top = model.classes_[model.predict_proba(x_undeclared).argmax(axis=1)]
            results.append((f"{len(train)}, {max_iter}", seconds, top, sure, undeclared_top))
        _, _, ref_top, _, ref_undeclared = results[-1]
        for fit, seconds, top, sure, undeclared_top in results:
            print(
                f"| {namespace} | {fit} | {seconds:.1f} | {np.mean(top == label[held]):.3f} | "
                f"{np.mean(top[sure] == label[held][sure]):.3f} / {np.mean(sure):.3f} | "
                f"{np.mean(top == ref_top):.3f} / {np.mean(undeclared_top == ref_undeclared):.3f} |"
            )
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
