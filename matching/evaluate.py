"""Offline quality: ranking metrics, the splits they are measured on, cold-start audiences.

All metrics are computed in batch from a (users, k) matrix of recommended rows and a CSR
matrix of held-out truth; no Python loop runs per user.

* precision@k = hits / k; recall@k = hits / |truth|; nDCG@k with binary gains and the ideal
  DCG of min(k, |truth|) hits; coverage = distinct recommended items / catalogue size.
  Means are over users with at least one held-out item.
* time_holdout: the gate's split. The last `holdout_days` (counted back from the newest
  event) are held out, capped at `holdout_max_fraction` of all events; only users with some
  training history are evaluated (a brand-new user measures the fallback, not the model).
* cold-start items: all events of a fraction of items are held out; each such item ranks all
  users by audience score; recall@k of the users who did interact, and AUC (the probability
  that such a user ranks above one who did not).
* sampling (sample_rows): at a million users scoring every holdout user or cold item costs
  more than the fits, so callers score a seeded sample of EvalConfig.max_users users and
  max_cold_items items; metrics are then estimates (BENCHMARKS.md gives their spread).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from matching.base import PAD_ID, Recommender, chunks, top_n
from matching.config import EvalConfig
from matching.data import SECONDS_PER_DAY, EventLog


def hits(top_ids: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """(m, k) bool: is top_ids[i, j] in row i of truth (rows aligned)."""
    m, k = top_ids.shape
    valid = top_ids != PAD_ID
    rows = np.repeat(np.arange(m), k)
    cols = np.where(valid, top_ids, 0).ravel()
    found = np.asarray(sp.csr_matrix(truth)[rows, cols]).reshape(m, k) != 0
    return found & valid


def _dcg(hit: np.ndarray, n_truth: np.ndarray) -> np.ndarray:
    k = hit.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_truth, k) - 1]
    return np.asarray((hit @ discounts) / ideal, dtype=np.float64)


def ndcg_per_row(top_ids: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """nDCG@k (k = top_ids.shape[1]) of each row with some truth (rows without are left out)."""
    truth = sp.csr_matrix(truth)
    n_truth = np.diff(truth.indptr)
    keep = n_truth > 0
    if not keep.any():
        return np.zeros(0)
    return _dcg(hits(top_ids[keep], truth[keep]), n_truth[keep])


def ranking_metrics(top_ids: np.ndarray, truth: sp.csr_matrix, n_items: int) -> dict[str, float]:
    """precision/recall/nDCG at k = top_ids.shape[1], over rows with truth, and coverage."""
    k = top_ids.shape[1]
    n_truth = np.diff(sp.csr_matrix(truth).indptr)
    keep = n_truth > 0
    top_ids, n_truth = top_ids[keep], n_truth[keep]
    names = (f"precision@{k}", f"recall@{k}", f"ndcg@{k}")
    if len(top_ids) == 0:
        return {**dict.fromkeys(names, float("nan")), "coverage": 0.0, "users": 0}
    hit = hits(top_ids, sp.csr_matrix(truth)[keep])
    recommended = np.unique(top_ids[top_ids != PAD_ID])
    return {
        names[0]: float(hit.sum(axis=1).mean() / k),
        names[1]: float((hit.sum(axis=1) / n_truth).mean()),
        names[2]: float(_dcg(hit, n_truth).mean()),
        "coverage": float(len(recommended) / max(n_items, 1)),
        "users": len(top_ids),
    }


def evaluate_model(
    model: Recommender, train: sp.csr_matrix, test: sp.csr_matrix, k: int
) -> dict[str, float]:
    """Rank for every user with test items, training items excluded."""
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    top_ids, _ = model.recommend(users, k, exclude=train[users])
    return ranking_metrics(top_ids, test[users], train.shape[1])


def time_holdout(events: EventLog, config: EvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train_mask, test_mask) over events; see the module docstring."""
    n = len(events)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    late = events.ts >= events.ts.max() - config.holdout_days * SECONDS_PER_DAY
    cap = int(config.holdout_max_fraction * n)
    if late.sum() > cap:
        # the `cap` newest events; ties at the boundary stay in training to respect the cap
        cutoff = np.partition(events.ts, n - cap)[n - cap] if cap else np.inf
        late = events.ts >= cutoff
        if late.sum() > cap:
            late = events.ts > cutoff
    train = ~late
    has_history = np.zeros(int(events.user.max()) + 1, dtype=bool)
    has_history[events.user[train]] = True
    return train, late & has_history[events.user]


def per_user_time_split(events: EventLog, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train_mask, test_mask): each user's newest round(fraction x their events) held out,
    at least one event kept for training (a user with a single event is not tested)."""
    n = len(events)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    order = np.lexsort((np.arange(n), events.ts, events.user))
    users = events.user[order]
    per_user = np.bincount(users)
    first = np.concatenate([[0], np.cumsum(per_user)[:-1]])
    rank = np.arange(n) - first[users]
    held_count = np.minimum(np.round(fraction * per_user), np.maximum(per_user - 1, 0))
    test = np.zeros(n, dtype=bool)
    test[order] = rank >= (per_user - held_count)[users]
    return ~test, test


def random_split(n_events: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_mask, test_mask): each event independently held out with test_fraction."""
    test = np.zeros(n_events, dtype=bool)
    n_test = round(test_fraction * n_events)
    test[np.random.default_rng(seed).choice(n_events, size=n_test, replace=False)] = True
    return ~test, test


def cold_item_split(events: EventLog, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_mask, cold_items): all events of a random `fraction` of interacted items held out."""
    items = np.unique(events.item)
    n_cold = round(fraction * len(items))
    if n_cold == 0:
        return np.ones(len(events), bool), np.zeros(0, np.int64)
    cold = np.sort(np.random.default_rng(seed).choice(items, size=n_cold, replace=False))
    return ~np.isin(events.item, cold), cold.astype(np.int64)


def sample_rows(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most `limit` of `rows` (all of them when limit is 0 or not smaller), a seeded
    uniform sample in ascending order: the same rows for every model scored against the same
    truth, so comparisons between them stay paired."""
    rows = np.asarray(rows, dtype=np.int64)
    if limit <= 0 or len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


def audience_metrics(
    score_users: Callable[[np.ndarray], np.ndarray],
    items: np.ndarray,
    truth: sp.csr_matrix,
    k: int,
) -> dict[str, float]:
    """Cold-item audience quality.

    score_users(item_rows) -> (len(item_rows), n_users) audience scores; truth is
    (len(items), n_users) with the users who interacted with each item.
    """
    truth = sp.csr_matrix(truth)
    n_users = truth.shape[1]
    recalls: list[np.ndarray] = []
    aucs: list[np.ndarray] = []
    for part in chunks(len(items), n_users):
        scores = np.asarray(score_users(items[part]), dtype=np.float64)
        positives = truth[part].toarray() > 0
        n_pos = positives.sum(axis=1)
        top_ids, _ = top_n(scores.astype(np.float32), k)
        found = hits(top_ids, truth[part]).sum(axis=1)
        recalls.append(found[n_pos > 0] / n_pos[n_pos > 0])
        ranks = rankdata(scores, axis=1)  # average ranks: ties count one half
        n_neg = n_users - n_pos
        ok = (n_pos > 0) & (n_neg > 0)
        rank_sum = (ranks * positives).sum(axis=1)
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / np.maximum(n_pos * n_neg, 1)
        aucs.append(auc[ok])
    recall = np.concatenate(recalls) if recalls else np.zeros(0)
    auc = np.concatenate(aucs) if aucs else np.zeros(0)
    return {
        f"recall@{k}": float(recall.mean()) if len(recall) else float("nan"),
        "auc": float(auc.mean()) if len(auc) else float("nan"),
        "items": len(auc),
    }
