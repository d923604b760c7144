"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) on a confidence matrix built from events.

Each event contributes its type weight, halved every `half_life_days` of age; contributions of
one user-item pair add up. ALS then sees confidence c = 1 + alpha * weight for observed pairs
and 1 for the rest, which is implicit's convention (it multiplies the matrix by its own alpha
and treats absent entries as confidence 1), so we hand it 1 + alpha * weight and alpha = 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from matching.config import ALSConfig, EventConfig
from matching.data import EventLog

SECONDS_PER_DAY = 86_400.0


def event_weights(events: EventLog, config: EventConfig, now: float) -> np.ndarray:
    """Per-event weight: type weight x 0.5 ** (age / half life). Future events count as new."""
    type_weight = np.array(
        [config.weights.get(name, config.unknown_type_weight) for name in events.type_names]
        or [0.0],
        dtype=np.float64,
    )
    age_days = np.maximum(now - events.ts, 0.0) / SECONDS_PER_DAY
    decay = np.exp2(-age_days / config.half_life_days)
    return (type_weight[events.type_code] * decay).astype(np.float32)


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


def confidence_matrix(
    events: EventLog, n_users: int, n_items: int, config: EventConfig, now: float
) -> sp.csr_matrix:
    """user x item summed, time-decayed, type-weighted event weight (float32 CSR)."""
    return interaction_matrix(events, n_users, n_items, event_weights(events, config, now))


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
    scaled = confidence.astype(np.float32, copy=True)
    scaled.data = 1.0 + config.alpha * scaled.data
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
