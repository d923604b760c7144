"""Fold a user's events received since the model's snapshot into their query vector.

Between retrains the item side of the model is fixed, so a user's CF factors given their
events are one regularised least-squares solve (the ALS user step, Hu, Koren & Volinsky 2008):

    x = (YᵀY + Yᵤᵀ(Cᵤ - I)Yᵤ + λI)⁻¹ Yᵤᵀ Cᵤ pᵤ

with Y the item factors, Yᵤ the rows of the items the user touched and c = 1 + alpha * weight,
exactly implicit's `user_linear_equation` / `recalculate_user` (tests check the two agree). It
is written with numpy here because implicit needs the whole item-factor matrix as its own
contiguous copy and recomputes per call what we build once; this solve reads only the user's
rows of the memory-mapped joint item vectors and one cached k x k Gram matrix, so a call costs
O(events of the user * k² + k³), nothing that grows with the catalogue.

The behavioural tag part is rebuilt the way TagSpace builds it (decayed, type-weighted sum of
the item tag rows, top tags, unit norm), and the joint vector the way training builds user
vectors (HybridSpace.joint). Decay counts from the newest event the fold-in sees, as training
counts from the snapshot's newest event; the user's snapshot events are read from the model's
event log, so the union is weighted as a retrain would weight it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from matching.als import event_weights
from matching.config import ModelConfig
from matching.data import EventLog
from matching.hybrid import HybridSpace
from matching.tagging import l2_normalize_rows, top_k_per_row
from matching.tagspace import TagSpace
from matching.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class RecentEvents:
    """One user's events that the model's snapshot did not hold (oldest first)."""

    item_ids: Sequence[str]  # external ids; ids unknown to the model are ignored
    types: Sequence[str]  # event type names (weights from the model's config.events)
    values: Sequence[float | None]
    ts: Sequence[float]  # epoch seconds

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if not len(self.types) == len(self.values) == len(self.ts) == n:
            raise ValueError("RecentEvents fields must all have one entry per event")

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True, slots=True)
class FoldedUser:
    """A user's query as a retrain would place them, from snapshot + recent events."""

    query: np.ndarray  # (dim,) joint vector, built like training's user vectors
    tags: sp.csr_matrix  # (1, n_tags) matching tag row (TagSpace.user_matrix's shape)
    cf: np.ndarray  # (factors,) ALS user factors before the joint scaling
    recent_item_rows: np.ndarray  # model rows of the recent events' known items


class FoldIn:
    """Per-model state for folding users in; built once, read-only afterwards (thread-safe)."""

    __slots__ = (
        "_alpha",
        "_als_events",
        "_behaviour_events",
        "_cf_to_joint",
        "_event_indptr",
        "_event_order",
        "_events",
        "_gram",
        "_item_tags",
        "_item_vectors",
        "_items",
        "_n_factors",
        "_space",
        "_tagspace",
        "_top_tags",
        "snapshot_time",
    )

    def __init__(
        self,
        *,
        config: ModelConfig,
        space: HybridSpace,
        tagspace: TagSpace,
        items: Vocabulary,
        item_vectors: np.ndarray,
        seen: sp.csr_matrix,
        events: EventLog,
        n_users: int,
        snapshot_time: float,
    ) -> None:
        self._space = space
        self._tagspace = tagspace
        self._items = items
        self._item_vectors = item_vectors
        self._item_tags = sp.csr_matrix(tagspace.item_tags)
        self._events = events
        self._n_factors = f = space.n_factors
        self._alpha = config.als.alpha
        self._als_events = config.events
        # TagSpace.interaction_weights: the same type weights, the behaviour half-life
        self._behaviour_events = config.events.model_copy(
            update={"half_life_days": config.tags.behaviour_half_life_days}
        )
        self._top_tags = config.tags.behaviour_top_tags
        self.snapshot_time = snapshot_time
        # The joint vectors hold sqrt(1 - a) * cf / scale. ALS factors are that divided back;
        # with a = 1 the CF part weighs nothing and there is nothing to solve.
        cf_weight = float(np.sqrt(max(1.0 - space.tag_share, 0.0)))
        self._cf_to_joint = cf_weight / space.item_cf_scale if cf_weight > 0 else 0.0
        # YᵀY + λI over the items ALS fitted. Items without training events had zero factors
        # in ALS (their joint CF part is a tag projection), so they stay out of the Gram.
        warm_items = np.bincount(seen.indices, minlength=len(items)) > 0
        gram = np.zeros((f, f), np.float64)
        if self._cf_to_joint > 0 and warm_items.any():
            warm = np.asarray(item_vectors[warm_items, :f], np.float64) / self._cf_to_joint
            gram = warm.T @ warm
        self._gram = gram + config.als.regularization * np.eye(f)
        # Each user's snapshot events, found without a scan: positions grouped by user.
        self._event_order = np.argsort(events.user, kind="stable").astype(np.int64)
        self._event_indptr = np.concatenate(
            ([0], np.cumsum(np.bincount(events.user, minlength=n_users)))
        ).astype(np.int64)

    def fold(
        self,
        user_row: int | None,
        recent: RecentEvents,
        declared: sp.csr_matrix,
    ) -> FoldedUser | None:
        """The user's folded query, or None when no event (snapshot or recent) reaches a
        known item. `declared` is the user's declared (+ predicted) tag row, unnormalised."""
        rows = self._items.indices(recent.item_ids)
        known = rows >= 0
        recent_rows = rows[known]
        own = self._snapshot_events(user_row)
        items = np.concatenate([self._events.item[own].astype(np.int64), recent_rows])
        if len(items) == 0:
            return None
        names = np.asarray(self._events.type_names, dtype=object)
        types = [*names[self._events.type_code[own]].tolist()]
        types += [str(t) for t, k in zip(recent.types, known, strict=True) if k]
        ts = np.concatenate(
            [self._events.ts[own], np.asarray(recent.ts, np.float64)[known]]
        ).astype(np.float64)
        log = EventLog.from_columns(np.zeros(len(items), np.int32), items, types, ts)
        # decay counts from the newest event seen, as training counts from its snapshot's
        now = max(self.snapshot_time, float(ts.max()))
        unique, inverse = np.unique(items, return_inverse=True)
        als_weight = np.bincount(inverse, event_weights(log, self._als_events, now))
        cf = self.solve(unique, als_weight)
        behaviour = np.bincount(inverse, event_weights(log, self._behaviour_events, now))
        tags = self._tag_row(unique, behaviour, declared)
        query = self._space.joint(cf[None, :], tags, "user")[0]
        return FoldedUser(query, tags, cf, recent_rows)

    def solve(self, item_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """ALS user factors for summed event weights on item rows (zero weights dropped, as
        the confidence matrix drops them)."""
        f = self._n_factors
        keep = weights > 0
        if self._cf_to_joint == 0 or not keep.any():
            return np.zeros(f, np.float32)
        y = np.asarray(self._item_vectors[item_rows[keep], :f], np.float64) / self._cf_to_joint
        confidence = 1.0 + self._alpha * weights[keep]
        a = self._gram + (y * (confidence - 1.0)[:, None]).T @ y
        b = y.T @ confidence
        return la.solve(a, b, assume_a="pos").astype(np.float32)

    def _snapshot_events(self, user_row: int | None) -> np.ndarray:
        if user_row is None or user_row + 1 >= len(self._event_indptr):
            return np.zeros(0, np.int64)
        start, end = self._event_indptr[user_row], self._event_indptr[user_row + 1]
        return self._event_order[start:end]

    def _tag_row(
        self, item_rows: np.ndarray, weights: np.ndarray, declared: sp.csr_matrix
    ) -> sp.csr_matrix:
        """TagSpace.user_matrix's row: unit(unit(declared + predicted) + behavioural)."""
        interest = sp.csr_matrix(weights[None, :].astype(np.float32)) @ self._item_tags[item_rows]
        behavioural = l2_normalize_rows(top_k_per_row(sp.csr_matrix(interest), self._top_tags))
        return l2_normalize_rows(l2_normalize_rows(declared) + behavioural)
