"""Sequence neighbours: items a user consumed right after (or before) other items.

An item-to-item score from the order of each user's events, for the ranking stage: item j is a
neighbour of item i when users had an event on j within `window` events after one on i,
weighted 1/distance, and at half weight when j came before i (what follows an item says more
about what a user does next than what precedes it). The counts are divided by
sqrt(events of i × events of j), so that popular items do not neighbour everything, and each
item keeps its `neighbours` best. A user's score for a candidate is the sum of the candidate's
weights over items of their history: over the whole history, and over the newest few items
only (what they are doing now).

Why: on data collected in sessions a user's items come in runs, and items consumed next to
each other are related in a way co-occurrence over whole histories (EASE, item-kNN, ALS)
blurs. On ml-100k's per-user temporal split the score over a user's 10 newest items alone
ranks validation items better than the joint and EASE scores together (BENCHMARKS.md).

The build never holds all pairs at once: pairs are gathered for one block of source items at a
time (from the positions of that block's items only), summed, and cut to the best neighbours
before the next block, so memory stays bounded by a block's pairs however many events there
are, and the work is the pairs plus one pass over the events per block.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from matching.csr_rows import top_k_per_row
from matching.data import EventLog
from matching.sparse_rows import RowLists, SparseRows, valid_rows

BACKWARD_WEIGHT = 0.5  # an item before another counts half as much as one after it
_BLOCK_PAIRS = 1 << 24  # pairs gathered at once (about 200 MB with their weights)


def items_newest_first(events: EventLog, n_users: int) -> RowLists:
    """Per user row, the distinct item rows of their events ordered by each item's newest
    event, newest first (ties: lower item row first)."""
    order = np.lexsort((events.item, -events.ts, events.user))
    users = events.user[order].astype(np.int64)
    items = events.item[order].astype(np.int64)
    n_items = int(items.max()) + 1 if len(items) else 1
    _, first = np.unique(users * n_items + items, return_index=True)
    keep = np.sort(first)  # each pair's newest event, in (user, newest first) order
    counts = np.bincount(users[keep], minlength=n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return RowLists(indptr, items[keep].astype(np.int32))


def newest_first(rows_oldest_first: np.ndarray) -> np.ndarray:
    """Distinct rows of a sequence given oldest first, newest first."""
    reversed_rows = np.asarray(rows_oldest_first, np.int64)[::-1]
    _, first = np.unique(reversed_rows, return_index=True)
    return reversed_rows[np.sort(first)]


def fit_sequence(events: EventLog, n_items: int, window: int, neighbours: int) -> sp.csr_matrix:
    """(n_items, n_items) float32 sequence-neighbour weights (module docstring); no diagonal."""
    order = np.lexsort((events.ts, events.user))
    users, items = events.user[order], events.item[order].astype(np.int64)
    n = len(items)
    events_per_item = np.bincount(items, minlength=n_items).astype(np.float64)
    scale = 1.0 / np.sqrt(events_per_item + 1.0)
    steps = [d for d in range(1, window + 1) if d < n]
    # how many of the same user's events lie after and before each position (capped at the
    # window): the partners d away exist where that room is >= d, so the blocks below compare
    # one small array instead of gathering and comparing user ids per distance
    after, before = _room(users, window)
    total = 2 * int(after.sum(dtype=np.int64))
    parts = []
    for low, high in _item_blocks(events_per_item, total):
        # the positions whose item is a source in this block, and their partners d away
        # (after: weight 1/d; before: BACKWARD_WEIGHT/d) within the same user's events
        sources = np.flatnonzero((items >= low) & (items < high))
        ahead, behind = after[sources], before[sources]
        rows, cols, weights = [], [], []
        for d in steps:
            for shift, weight, room in ((d, 1.0 / d, ahead), (-d, BACKWARD_WEIGHT / d, behind)):
                at = sources[room >= d]
                source, target = items[at], items[at + shift]
                keep = source != target
                rows.append(source[keep] - low)
                cols.append(target[keep])
                weights.append(np.full(int(keep.sum()), weight))
        block = sp.csr_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
            shape=(high - low, n_items),
        )  # sums repeated pairs
        block = sp.csr_matrix(sp.diags(scale[low:high]) @ block @ sp.diags(scale))
        parts.append(top_k_per_row(block, neighbours))
    if not parts:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    matrix = sp.csr_matrix(sp.vstack(parts), dtype=np.float32)
    matrix.sort_indices()
    return matrix


def sums_at(matrix: sp.csr_matrix, history: list[np.ndarray], candidates: np.ndarray) -> np.ndarray:
    """(m, C) float64: per query, the sum of `matrix`'s rows of its history items (rows out of
    range ignored) at each of its candidate rows. Only the candidates' sums are formed: the
    history's rows are gathered and each entry that hits a candidate is binned (a few thousand
    entries per query, against a full row sum's unique-and-add)."""
    out = np.zeros(candidates.shape, np.float64)
    n_items = matrix.shape[0]
    for row, seen in enumerate(history):
        reach = SparseRows.take(matrix, np.unique(valid_rows(seen, n_items)))
        if len(reach.indices) == 0:
            continue
        order = np.argsort(candidates[row], kind="stable")
        ranked = candidates[row][order]
        at = np.minimum(np.searchsorted(ranked, reach.indices), len(ranked) - 1)
        hit = ranked[at] == reach.indices
        out[row, order] = np.bincount(at[hit], weights=reach.data[hit], minlength=len(ranked))
    return out


def _room(users: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per position of events sorted by user, the count of the same user's events after it
    and before it, each capped at `window` (small integers: a few bytes per event)."""
    n = len(users)
    dtype = np.min_scalar_type(max(window, 1))
    if n == 0:
        return np.zeros(0, dtype), np.zeros(0, dtype)
    starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]]))
    lengths = np.diff(np.concatenate([starts, [n]]))
    position = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    after = np.repeat(lengths, lengths) - position - 1
    return (
        np.minimum(after, window).astype(dtype),
        np.minimum(position, window).astype(dtype),
    )


def _item_blocks(events_per_item: np.ndarray, total_pairs: int) -> list[tuple[int, int]]:
    """Consecutive item row ranges, each the source of about _BLOCK_PAIRS pairs at most
    (an item's pairs grow with its events)."""
    n_items = len(events_per_item)
    if n_items == 0:
        return []
    count = max(1, int(np.ceil(total_pairs / _BLOCK_PAIRS)))
    if count == 1:
        return [(0, n_items)]
    share = np.cumsum(events_per_item) / max(events_per_item.sum(), 1.0)
    cuts = np.searchsorted(share, np.arange(1, count) / count, side="right")
    edges = np.unique(np.concatenate([[0], cuts, [n_items]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
