"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) on a confidence matrix built from events.

Each event contributes its type weight, halved every `half_life_days` of age; contributions of
one user-item pair add up. Age counts back from the newest event of the data, not the wall
clock: a data set whose last event is a year old must not see every weight decayed to nothing
(then confidence is 1 everywhere and observed pairs weigh no more than unobserved ones).
ALS then sees confidence c = 1 + alpha * weighted(weight) for observed pairs and 1 for the
rest, which is implicit's convention (it multiplies the matrix by its own alpha and treats
absent entries as confidence 1), so we hand it 1 + alpha * weighted(weight) and alpha = 1.
`weighted` is the identity, log1p, or implicit's BM25 weighting (ALSConfig.weighting).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from threadpoolctl import threadpool_limits

from matching.config import ALSConfig, EventConfig
from matching.data import SECONDS_PER_DAY, EventLog


def event_weights(
    events: EventLog, config: EventConfig, reference: float | None = None
) -> np.ndarray:
    """Per-event weight: type weight x 0.5 ** (age / half life); no decay when half_life_days
    is None. Age counts back from `reference`, by default the newest of these events (a
    later event counts as new)."""
    type_weight = np.array(
        [config.weights.get(name, config.unknown_type_weight) for name in events.type_names]
        or [0.0],
        dtype=np.float64,
    )
    weight = type_weight[events.type_code]
    if config.half_life_days is not None and len(events):
        newest = float(events.ts.max()) if reference is None else reference
        age_days = np.maximum(newest - events.ts, 0.0) / SECONDS_PER_DAY
        weight = weight * np.exp2(-age_days / config.half_life_days)
    return weight.astype(np.float32)


def interaction_matrix(
    events: EventLog, n_users: int, n_items: int, weights: np.ndarray | None = None
) -> sp.csr_matrix:
    """user x item CSR summing `weights` (1 per event when None) over duplicate pairs."""
    data = np.ones(len(events), np.float32) if weights is None else weights.astype(np.float32)
    matrix = sp.coo_matrix(
        (data, (events.user.astype(np.int64), events.item.astype(np.int64))),
        shape=(n_users, n_items),
    ).tocsr()  # tocsr sums duplicates
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def decay_reference(events: EventLog, now: float) -> float:
    """Where ages count from: the newest event, but never later than the snapshot time `now`
    (ingest accepts events dated ahead; one such event must not decay all the others)."""
    return min(float(events.ts.max()), now) if len(events) else now


def confidence_matrix(
    events: EventLog,
    n_users: int,
    n_items: int,
    config: EventConfig,
    reference: float | None = None,
) -> sp.csr_matrix:
    """user x item summed, time-decayed, type-weighted event weight (float32 CSR); ages from
    `reference` (default: the newest event)."""
    weights = event_weights(events, config, reference)
    return interaction_matrix(events, n_users, n_items, weights)


def confidence_curve(weights: np.ndarray, config: ALSConfig) -> np.ndarray:
    """alpha * f(weight) per pair for the per-pair weightings (linear, log). BM25 also depends
    on the whole matrix (weighted_confidence); one user's fold-in approximates it linearly."""
    values = np.asarray(weights, dtype=np.float64)
    return config.alpha * (np.log1p(values) if config.weighting == "log" else values)


def weighted_confidence(confidence: sp.csr_matrix, config: ALSConfig) -> sp.csr_matrix:
    """1 + alpha * weighted(weight) on the stored entries (what ALS fits)."""
    if config.weighting == "bm25":
        # rows are items, as in implicit's own examples: an item's weight per user is damped by
        # how many items that user touched (idf) and the item's total weight (length norm)
        scaled = sp.csr_matrix(bm25_weight(confidence.T, K1=100, B=0.8).T, dtype=np.float32)
        scaled.sort_indices()
        np.maximum(scaled.data, 0.0, out=scaled.data)  # idf < 0 for a user who touched all
    else:
        scaled = confidence.astype(np.float32, copy=True)
        if config.weighting == "log":
            scaled.data = np.log1p(scaled.data)
    scaled.data = 1.0 + config.alpha * scaled.data
    return scaled


def fit_als(confidence: sp.csr_matrix, config: ALSConfig) -> tuple[np.ndarray, np.ndarray]:
    """(user_factors, item_factors), float32, fitted with implicit's CPU ALS.

    Users or items without any entry keep factors of exactly zero, so that callers can tell
    them apart (cold rows) instead of reading noise from the random initialisation.
    """
    n_users, n_items = confidence.shape
    user_factors = np.zeros((n_users, config.factors), np.float32)
    item_factors = np.zeros((n_items, config.factors), np.float32)
    if confidence.nnz == 0:
        return user_factors, item_factors
    scaled = weighted_confidence(confidence, config)
    # implicit parallelises over users itself; a multithreaded BLAS underneath only contends
    # (and implicit warns about it when the model is constructed).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            alpha=1.0,
            iterations=config.iterations,
            random_state=config.random_state,
            dtype=np.float32,
        )
        model.fit(scaled, show_progress=False)
    user_factors[:] = np.asarray(model.user_factors, dtype=np.float32)
    item_factors[:] = np.asarray(model.item_factors, dtype=np.float32)
    user_factors[np.diff(confidence.indptr) == 0] = 0.0
    item_factors[np.bincount(confidence.indices, minlength=n_items) == 0] = 0.0
    return user_factors, item_factors
