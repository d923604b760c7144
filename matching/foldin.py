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
vectors (HybridSpace.joint). The user's snapshot events are read from the model's event log and
weighted with the recent ones exactly as training weighted its events: decay counts from the
snapshot time and an event after it counts as new (als.event_weights). Counting from the newest
event instead would let one event dated years ahead, which ingest accepts, decay the rest of
the user's history to nothing; between retrains the two differ by 2^(-gap / half-life).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from matching.als import confidence_curve, decay_reference, event_weights
from matching.config import ModelConfig
from matching.data import EventLog
from matching.hybrid import HybridSpace
from matching.tagspace import TagSpace
from matching.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class RecentEvents:
    """One user's events that the model's snapshot did not hold, in any order (ts orders them)."""

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
    recent_item_rows: np.ndarray  # model rows of the recent events' known items, oldest first


class FoldIn:
    """Per-model state for folding users in; built once, read-only afterwards (thread-safe)."""

    __slots__ = (
        "_alpha",
        "_als",
        "_als_events",
        "_als_reference",
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
        self._als = config.als
        self._als_events = config.events
        # TagSpace.interaction_weights: the same type weights, the behaviour half-life
        self._behaviour_events = config.events.model_copy(
            update={"half_life_days": config.tags.behaviour_half_life_days}
        )
        self._top_tags = config.tags.behaviour_top_tags
        self.snapshot_time = snapshot_time
        # ALS weights decay from the snapshot's newest event, as training's (als.decay_reference)
        self._als_reference = decay_reference(events, snapshot_time)
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
        self._event_order = np.argsort(events.user, kind="stable").astype(
            np.int32 if len(events) < 2**31 else np.int64
        )
        self._event_indptr = np.concatenate(
            ([0], np.cumsum(np.bincount(events.user, minlength=n_users)))
        ).astype(np.int64)

    def fold(
        self,
        user_row: int | None,
        recent: RecentEvents,
        declared: sp.csr_matrix | None = None,
    ) -> FoldedUser | None:
        """The user's folded query, or None when no event (snapshot or recent) reaches a known
        item. A snapshot user's declared and predicted tags come from the tag space; a user the
        snapshot did not know brings `declared` (their declared tag row), if anything."""
        rows = self._items.indices(recent.item_ids)
        known = rows >= 0
        recent_rows = rows[known]
        own = self._snapshot_events(user_row)
        items = np.concatenate([self._events.item[own].astype(np.int64), recent_rows])
        if len(items) == 0:
            return None
        log = self._event_log(own, recent, known, items)
        unique, inverse = np.unique(items, return_inverse=True)
        als_weight = event_weights(log, self._als_events, self._als_reference)
        cf = self.solve(unique, np.bincount(inverse, als_weight))
        behaviour = event_weights(log, self._behaviour_events, self.snapshot_time)
        tags = self._tag_row(user_row, unique, np.bincount(inverse, behaviour), declared)
        query = self._space.joint(cf[None, :], tags, "user")[0]
        # by event time: the API hands events over in arrival order, and a client may send
        # older events late
        by_time = np.argsort(np.asarray(recent.ts, np.float64)[known], kind="stable")
        return FoldedUser(query, tags, cf, recent_rows[by_time])

    def solve(self, item_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """ALS user factors for summed event weights on item rows (zero weights dropped, as
        the confidence matrix drops them)."""
        f = self._n_factors
        keep = weights > 0
        if self._cf_to_joint == 0 or not keep.any():
            return np.zeros(f, np.float32)
        y = np.asarray(self._item_vectors[item_rows[keep], :f], np.float64) / self._cf_to_joint
        confidence = 1.0 + confidence_curve(weights[keep], self._als)
        a = self._gram + (y * (confidence - 1.0)[:, None]).T @ y
        b = y.T @ confidence
        try:  # symmetric positive definite whenever λ > 0: Cholesky
            factor = la.cho_factor(a, check_finite=False)
            x = la.cho_solve(factor, b, check_finite=False)
        except la.LinAlgError:  # λ = 0 and too few fitted items: least norm, not a crash
            x = la.lstsq(a, b, check_finite=False)[0]
        return np.asarray(x, np.float32)

    def holds(self, user_row: int, item_row: int, ts: float) -> bool:
        """Whether the snapshot has this user's event on this item at this time: a serving
        process reading "events since the snapshot" with a safety margin re-reads some the
        snapshot already counted, and folding them in again would count them twice."""
        own = self._snapshot_events(user_row)
        on_item = own[self._events.item[own] == item_row]
        return bool(np.any(self._events.ts[on_item] == ts))

    def _snapshot_events(self, user_row: int | None) -> np.ndarray:
        if user_row is None or user_row + 1 >= len(self._event_indptr):
            return np.zeros(0, np.int64)
        start, end = self._event_indptr[user_row], self._event_indptr[user_row + 1]
        return self._event_order[start:end]

    def _event_log(
        self, own: np.ndarray, recent: RecentEvents, known: np.ndarray, items: np.ndarray
    ) -> EventLog:
        """The user's snapshot events followed by their recent ones on known items."""
        names = list(self._events.type_names)
        code_of = {name: code for code, name in enumerate(names)}
        recent_codes = []
        for name, keep in zip(recent.types, known, strict=True):
            if keep:
                code = code_of.setdefault(str(name), len(names))
                if code == len(names):
                    names.append(str(name))
                recent_codes.append(code)
        values = [
            0.0 if v is None else float(v) for v, k in zip(recent.values, known, strict=True) if k
        ]
        return EventLog(
            user=np.zeros(len(items), np.int32),
            item=items.astype(np.int32),
            type_code=np.concatenate(
                [self._events.type_code[own], np.asarray(recent_codes, np.int16)]
            ).astype(np.int16),
            value=np.concatenate([self._events.value[own], np.asarray(values, np.float32)]),
            ts=np.concatenate([self._events.ts[own], np.asarray(recent.ts, np.float64)[known]]),
            type_names=names,
        )

    def _tag_row(
        self,
        user_row: int | None,
        item_rows: np.ndarray,
        weights: np.ndarray,
        declared: sp.csr_matrix | None,
    ) -> sp.csr_matrix:
        """TagSpace.user_matrix's row, unit(unit(declared + predicted) + behavioural), with the
        behavioural part built as build_tagspace builds it (weighted sum of the items' tag rows,
        top tags, unit norm). On index arrays: scipy's per-call overhead on 1-row matrices was
        most of the fold-in's cost."""
        if user_row is not None:
            profile = _add(
                _entries(self._tagspace.user_declared, user_row),
                _entries(self._tagspace.user_predicted, user_row),
            )
        elif declared is not None:
            profile = _entries(sp.csr_matrix(declared), 0)
        else:
            profile = _EMPTY
        interest = _add(_weighted_rows(self._item_tags, item_rows, weights))
        behavioural = _unit(_top(interest, self._top_tags))
        cols, vals = _unit(_add(_unit(profile), behavioural))
        return sp.csr_matrix(
            (vals, cols, np.array([0, len(cols)])), shape=(1, self._item_tags.shape[1])
        )


# A sparse row as (sorted int32 columns, float32 values); what the helpers below pass around.
Entries = tuple[np.ndarray, np.ndarray]
_EMPTY: Entries = (np.zeros(0, np.int32), np.zeros(0, np.float32))


def _entries(matrix: sp.csr_matrix, row: int) -> Entries:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return np.asarray(matrix.indices[start:end]), np.asarray(matrix.data[start:end], np.float32)


def _weighted_rows(matrix: sp.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> Entries:
    """weight_i * row_i of a CSR matrix for each (row, weight), as one list of entries."""
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    scale = np.repeat(weights.astype(np.float32), lengths)
    return matrix.indices[positions], matrix.data[positions] * scale


def _add(*parts: Entries) -> Entries:
    """Sum of sparse rows (entries may repeat columns), columns sorted."""
    cols = np.concatenate([p[0] for p in parts]) if parts else _EMPTY[0]
    vals = np.concatenate([p[1] for p in parts]) if parts else _EMPTY[1]
    unique, inverse = np.unique(cols, return_inverse=True)
    return unique.astype(np.int32), np.bincount(inverse, vals, len(unique)).astype(np.float32)


def _top(entries: Entries, k: int) -> Entries:
    """The k largest entries (ties: lower column first, as tagging.top_k_per_row)."""
    cols, vals = entries
    if len(cols) <= k:
        return entries
    keep = np.sort(np.lexsort((cols, -vals))[:k])
    return cols[keep], vals[keep]


def _unit(entries: Entries) -> Entries:
    """Scaled to unit L2 norm, as csr_rows.l2_normalize_rows (an empty row stays empty)."""
    cols, vals = entries
    norm = np.sqrt(np.sum(vals.astype(np.float64) ** 2))
    return cols, (vals / np.float32(max(norm, 1e-12))).astype(np.float32)
