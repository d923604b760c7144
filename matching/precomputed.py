"""Answers computed at training for the per-page-view calls, read at serving.

An online recommend runs FAISS retrieval, the ranking stage (item-to-item candidates,
features, LightGBM) and the reasons: about ten times what the HTTP framework costs per request
(BENCHMARKS.md, serving). Most calls are for a warm user with no event since the snapshot and
no filter, and that answer depends on the snapshot only; so does a cold start's for a user
the snapshot knows by declared tags alone, as long as those tags have not changed since. So
the training run computes it once per user, through the serving code itself
(TrainedModel.ranked_items, queries in batches), and the item audiences likewise (the user
index, seen users excluded); a call then reads one row and drops what the live state rules
out now (items no longer available, users erased or without consent, exclusions). Gorse
serves from a cache filled offline the same way.

Layout, in the model version (memory-mapped: one copy in the page cache for all workers):

* user_slot (n_users,) int32: the user's row in user_items, -1 for none (a user with neither
  events nor declared tags, one beyond ServingConfig.precomputed_max_users, or one erased
  since);
* user_items (slots, K) int32 item rows, best first, -1 padding; user_scores float32;
* item_users (n_items, K') int32 user rows, best first, -1 padding (and where a purge erased
  a user); item_user_scores float32.

A stored answer is the online one as long as nothing changed: the same call with the same
floats (tests/matching/test_precomputed.py). Dropping an item that is no longer available
from a ranked list is not exactly what the online call does then: it ranks the remaining
candidates, whose features are standardised within the pool, so scores move slightly.
Dropping users from an audience is exact where the user index is exact (flat, up to
IndexConfig.exact_max rows); above it the stored audience comes from a wider IVF search than
an online call of n makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from matching.base import PAD_ID, PAD_SCORE
from matching.config import ServingConfig
from matching.model import Recommendations, Scored, TrainedModel
from matching.sparse_rows import SparseRows

PREFIX = "precomputed."
USER_SLOT, USER_ITEMS, USER_SCORES = "user_slot", "user_items", "user_scores"
ITEM_USERS, ITEM_USER_SCORES = "item_users", "item_user_scores"
NAMES = (USER_SLOT, USER_ITEMS, USER_SCORES, ITEM_USERS, ITEM_USER_SCORES)  # field order
BATCH = 256  # queries per rank_batch call: (batch, candidates, features) float64 at once


def file_name(name: str) -> str:
    """The file of one of the arrays (NAMES) in a model version."""
    return f"{PREFIX}{name}.npy"


@dataclass(frozen=True, slots=True)
class PrecomputedAnswers:
    user_slot: np.ndarray  # (n_users,) int32, -1: none stored
    user_items: np.ndarray  # (slots, K) int32 item rows, -1 padding
    user_scores: np.ndarray  # (slots, K) float32
    item_users: np.ndarray  # (n_items, K') int32 user rows, -1 padding
    item_user_scores: np.ndarray  # (n_items, K') float32

    @property
    def items_per_user(self) -> int:
        return int(self.user_items.shape[1])

    @property
    def users_per_item(self) -> int:
        return int(self.item_users.shape[1])

    def items_for(
        self, user_row: int, n: int, available: np.ndarray | None, excluded: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The user's first n stored items among `available` (bool mask, None: all) and not
        `excluded`: (rows, scores); None when none are stored or fewer than n are left."""
        slot = int(self.user_slot[user_row])
        if slot < 0 or n > self.items_per_user:
            return None
        return _first(self.user_items[slot], self.user_scores[slot], n, available, excluded)

    def users_for(
        self, item_row: int, n: int, allowed: np.ndarray | None, excluded: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The item's first n stored users among `allowed` and not `excluded`, as items_for."""
        if n > self.users_per_item:
            return None
        rows, scores = self.item_users[item_row], self.item_user_scores[item_row]
        return _first(rows, scores, n, allowed, excluded)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to store, by file stem."""
        return {f"{PREFIX}{name}": np.asarray(getattr(self, name)) for name in NAMES}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], n_users: int, n_items: int
    ) -> PrecomputedAnswers | None:
        """From a version's (memory-mapped) arrays; None for a version saved without them
        (it serves every call online)."""
        if not all(f"{PREFIX}{name}" in arrays for name in NAMES):
            return None
        answers = cls(*(arrays[f"{PREFIX}{name}"] for name in NAMES))
        if len(answers.user_slot) != n_users or len(answers.item_users) != n_items:
            raise ValueError("precomputed answers do not match the model's users and items")
        return answers


def recommend(
    model: TrainedModel,
    user_id: str,
    n: int,
    *,
    available: np.ndarray | None = None,
    exclude_item_ids: Iterable[str] = (),
    attributes: Mapping[str, object] | None = None,
    declared_tags: Mapping[str, float] | None = None,
) -> Recommendations | None:
    """model.recommend(user_id, n, exclude_seen=True) for a user the snapshot knows, with no
    event since it and no filter but `available` (bool mask over items: what is live now):
    the list stored at training, less the items no longer available or excluded; a cold
    start for a user without events. None when there is no usable list (none stored, fewer
    than n left, n needs another retrieval width than the list was ranked with, or the user
    has no events and `attributes`/`declared_tags`, their declared data as of now, is not
    what the snapshot held: that is their query): model.recommend() answers then."""
    stored, row = model.precomputed, model.users.index(user_id)
    if stored is None or row is None:
        return None
    warm = model.is_warm_user(row)
    if not warm and not model.declared_as_in_snapshot(row, attributes, declared_tags):
        return None
    ranked_from = model.retrieval_width(stored.items_per_user, True)
    if warm and model.ranking is not None and model.retrieval_width(n, True) != ranked_from:
        return None  # a cold start keeps retrieval order: a prefix of it is the shorter answer
    found = stored.items_for(row, n, available, model.item_rows(exclude_item_ids))
    if found is None:
        return None
    if warm:
        query = np.asarray(model.user_vectors[row])
        tags = SparseRows.one(model.user_tag_matrix, row)
        return Recommendations("personal", model.scored(query, tags, *found, "recommend"))
    declared = model.declared_row(row)
    query = model.space.cold_user_row(*declared.row(0))
    return Recommendations("cold_start", model.scored(query, declared, *found, "recommend"))


def audience(
    model: TrainedModel,
    item_id: str,
    n: int,
    *,
    allowed: np.ndarray | None = None,
    exclude_user_ids: Iterable[str] = (),
) -> list[Scored] | None:
    """model.audience(item_id, n, exclude_seen=True) for an item the model has, with no
    filter but `allowed` (bool mask over users): the audience stored at training, less the
    users not allowed or excluded. None when there is no usable list: model.audience()
    answers then."""
    stored, row = model.precomputed, model.items.index(item_id)
    if stored is None or row is None:
        return None
    found = stored.users_for(row, n, allowed, model.user_rows(exclude_user_ids))
    if found is None:
        return None
    query, query_tags = model.item_query(item_id, "", "", None)
    assert query is not None  # a known item always has its vector
    return model.scored(query, query_tags, *found, "audience")


def _first(
    rows: np.ndarray,
    scores: np.ndarray,
    n: int,
    allowed: np.ndarray | None,
    excluded: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    rows = np.asarray(rows, np.int64)
    keep = rows != PAD_ID
    if allowed is not None:
        keep &= np.asarray(allowed)[np.maximum(rows, 0)]
    if len(excluded):
        keep &= ~np.isin(rows, excluded)
    kept = np.flatnonzero(keep)[:n]
    if len(kept) < n:
        return None
    return rows[kept], np.asarray(scores)[kept]


def stored_users(model: TrainedModel, most: int) -> np.ndarray:
    """Rows of the users whose answers are stored, ascending, `most` at most: warm users, the
    most active first (longest snapshot history; ties by row), then users without events but
    with declared tags (a cold start; by row)."""
    trained = np.diff(model.seen.indptr) > 0
    warm = np.flatnonzero(trained)
    if len(warm) > most:
        lengths = np.diff(np.asarray(model.interactions_by_user.indptr))[warm]
        warm = warm[np.argsort(-lengths, kind="stable")[:most]]
    declared = np.diff(model.tagspace.user_declared.indptr) > 0
    cold = np.flatnonzero(~trained & declared)[: most - len(warm)]
    return np.sort(np.concatenate([warm, cold])).astype(np.int64)


def precompute(model: TrainedModel, config: ServingConfig) -> PrecomputedAnswers | None:
    """Every stored user's recommend answer and every item's audience, seen excluded, no
    filter: what recommend() and audience() answer for them right after training (a warm
    user's ranked from their vector, a cold start's in retrieval order from their declared
    tags)."""
    k_items, k_users = config.precomputed_items, config.precomputed_users
    if k_items == 0 and k_users == 0:
        return None
    users = stored_users(model, config.precomputed_max_users) if k_items else np.zeros(0, np.int64)
    slot = np.full(len(model.users), -1, np.int32)
    slot[users] = np.arange(len(users), dtype=np.int32)
    user_items = np.full((len(users), k_items), PAD_ID, np.int32)
    user_scores = np.full((len(users), k_items), PAD_SCORE, np.float32)
    warm = np.diff(model.seen.indptr)[users] > 0
    for group, trained in ((users[warm], True), (users[~warm], False)):
        for start in range(0, len(group), BATCH):
            rows = group[start : start + BATCH]
            seen = [model.interacted_items(int(r)) for r in rows]
            if trained:
                queries, histories = np.asarray(model.user_vectors[rows]), seen
            else:
                queries, histories = model.space.cold_user(model.declared_tags(rows)), None
            ids, scores = model.ranked_items(queries, k_items, seen, histories=histories)
            user_items[slot[rows]], user_scores[slot[rows]] = ids, scores
    n_items = len(model.items) if k_users else 0
    item_users = np.full((len(model.items), k_users), PAD_ID, np.int32)
    item_scores = np.full((len(model.items), k_users), PAD_SCORE, np.float32)
    for start in range(0, n_items, BATCH):
        rows = np.arange(start, min(start + BATCH, n_items))
        seen = [model.interacted_users(int(r)) for r in rows]
        queries = np.asarray(model.item_vectors[rows])
        ids, scores = model.user_index.search_each(queries, k_users, seen)
        item_users[rows], item_scores[rows] = ids, scores
    return PrecomputedAnswers(slot, user_items, user_scores, item_users, item_scores)
