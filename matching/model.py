"""The trained model a serving process answers with: ids in, ids out.

A TrainedModel is immutable once built (or loaded, possibly memory-mapped), so one instance is
shared by every request thread. It answers three questions over one joint vector space:
recommend (user -> items), similar_items (item -> items) and audience (item -> users), for
known ids and for new ones described by attributes or tags (cold start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp

from matching.als import interaction_matrix
from matching.base import PAD_ID, PAD_SCORE, allowed_mask, top_n
from matching.config import ModelConfig
from matching.csr_rows import l2_normalize_rows
from matching.data import EventLog
from matching.foldin import FoldIn, RecentEvents
from matching.hybrid import HybridSpace
from matching.index import VectorIndex
from matching.ranking import RankingStage, rank_batch
from matching.reasons import POPULAR_REASON, explain
from matching.sequence import items_newest_first, newest_first
from matching.sparse_rows import RowLists, SparseRows, member, unit_row
from matching.tagspace import TagSpace
from matching.vocabulary import Vocabulary

if TYPE_CHECKING:  # matching.precomputed reads the model's stored answers: it imports this
    from matching.precomputed import PrecomputedAnswers

Strategy = Literal["personal", "cold_start", "popular"]


class Scored(NamedTuple):
    """One row of an answer. A named tuple, not a frozen dataclass: an answer builds one per
    row, and a frozen dataclass's __init__ cost three times as much (a tenth of an audience
    of 100)."""

    id: str
    score: float
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class Recommendations:
    strategy: Strategy
    items: list[Scored]


@dataclass(slots=True)
class TrainedModel:
    version: str
    config: ModelConfig
    digest: str
    created_at: float
    snapshot_time: float
    users: Vocabulary
    items: Vocabulary
    tagspace: TagSpace
    space: HybridSpace
    user_vectors: np.ndarray  # (n_users, dim) joint
    item_vectors: np.ndarray  # (n_items, dim) joint
    popularity: np.ndarray  # (n_items,) summed decayed event weight
    seen: sp.csr_matrix  # (n_users, n_items) structure of the training interactions
    categories: Vocabulary
    item_category: np.ndarray  # (n_items,) int32 row into categories, -1 for none
    user_index: VectorIndex
    item_index: VectorIndex
    # What serving needs to judge freshness without a store read per item or user:
    item_published: np.ndarray  # (n_items,) float64 epoch seconds, NaN = always
    item_expires: np.ndarray  # (n_items,) float64 epoch seconds, NaN = never
    user_consent: np.ndarray  # (n_users,) bool push consent at snapshot time
    events: EventLog  # the snapshot's events: segment rules count behaviour over windows
    metrics: dict[str, Any] = field(default_factory=dict)
    ranking: RankingStage | None = None  # rescoring of recommend's candidates (ranking.py)
    precomputed: PrecomputedAnswers | None = None  # answers stored at training (precomputed.py)
    # The serving caches below are derived from the fields above. A loaded artifact supplies
    # them memory-mapped (matching.artifact writes them at save time), so N worker processes
    # share one copy in the page cache; a model fresh from training builds them on first use.
    # TagSpace.user_matrix() for all users, sliced per request (rebuilding it per request
    # was a third of an audience call's model time).
    _user_matrix: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    # Every snapshot event's (user, item) pair, both ways round: what exclude_seen excludes.
    # Not `seen`, which drops pairs whose decayed weight is zero.
    _interacted: RowLists | None = field(default=None, init=False, repr=False)
    _interacted_by_item: RowLists | None = field(default=None, init=False, repr=False)
    _foldin: FoldIn | None = field(default=None, init=False, repr=False)

    def warm(self) -> TrainedModel:
        """Have the serving caches ready before the model is swapped in, so the first requests
        after a swap do not pay for them (about a second at 100k users and 2M events). On a
        model loaded with them from its artifact this builds only the fold-in state."""
        _ = self.user_tag_matrix, self.interactions_by_user, self.interactions_by_item
        self.foldin()
        return self

    def use_serving_caches(
        self,
        user_tag_matrix: sp.csr_matrix,
        interactions_by_user: RowLists,
        interactions_by_item: RowLists,
    ) -> None:
        """Serve with caches computed elsewhere (matching.artifact: memory-mapped arrays)."""
        n_users, n_items = len(self.users), len(self.items)
        if user_tag_matrix.shape != (n_users, len(self.tagspace.tags)):
            raise ValueError("user tag matrix does not match the model's users and tags")
        if (len(interactions_by_user), len(interactions_by_item)) != (n_users, n_items):
            raise ValueError("interaction lists do not match the model's users and items")
        self._user_matrix = user_tag_matrix
        self._interacted = interactions_by_user
        self._interacted_by_item = interactions_by_item

    @property
    def user_tag_matrix(self) -> sp.csr_matrix:
        """TagSpace.user_matrix() of every snapshot user (what audiences and reasons match)."""
        matrix = self._user_matrix
        if matrix is None:  # two threads may both build it; the results are identical
            matrix = self._user_matrix = sp.csr_matrix(self.tagspace.user_matrix())
        return matrix

    @property
    def interactions_by_user(self) -> RowLists:
        """Per user row, the item rows it had any event with in the snapshot, newest first
        (the order the ranking stage's histories come in)."""
        lists = self._interacted
        if lists is None:
            lists = self._interacted = items_newest_first(self.events, len(self.users))
        return lists

    @property
    def interactions_by_item(self) -> RowLists:
        """Per item row, the user rows with any event on it in the snapshot."""
        lists = self._interacted_by_item
        if lists is None:
            by_item = EventLog(
                self.events.item,
                self.events.user,
                self.events.type_code,
                self.events.value,
                self.events.ts,
                self.events.type_names,
            )
            lists = self._interacted_by_item = RowLists.of(
                interaction_matrix(by_item, len(self.items), len(self.users))
            )
        return lists

    # ---- lookups used to build filters -------------------------------------------------
    def item_rows(self, ids: Iterable[str]) -> np.ndarray:
        return self.items.indices(ids)

    def user_rows(self, ids: Iterable[str]) -> np.ndarray:
        return self.users.indices(ids)

    def items_with_tag(self, tag: str) -> np.ndarray:
        column = self.tagspace.tags.index(tag)
        if column is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.tagspace.item_tags[:, column].toarray().ravel()).astype(np.int64)

    def items_in_category(self, category: str) -> np.ndarray:
        code = self.categories.index(category)
        if code is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(np.asarray(self.item_category) == code).astype(np.int64)

    def is_warm_user(self, row: int) -> bool:
        return bool(self.seen.indptr[row + 1] > self.seen.indptr[row])

    def interacted_items(self, user_row: int) -> np.ndarray:
        """Item rows this user had any event with in the snapshot, newest first."""
        return self.interactions_by_user.row(user_row)

    def interacted_users(self, item_row: int) -> np.ndarray:
        """User rows with any event on this item in the snapshot."""
        return self.interactions_by_item.row(item_row)

    def user_tags(self, rows: np.ndarray) -> SparseRows:
        """Users' matching tag vectors (TagSpace.user_matrix) for just these rows."""
        return SparseRows.take(self.user_tag_matrix, rows)

    def foldin(self) -> FoldIn:
        """The state recent events are folded in with (matching/foldin.py), built on first use."""
        state = self._foldin
        if state is None:  # two threads may both build it; the results are identical
            state = self._foldin = FoldIn(
                config=self.config,
                space=self.space,
                tagspace=self.tagspace,
                items=self.items,
                item_vectors=self.item_vectors,
                seen=self.seen,
                events=self.events,
                n_users=len(self.users),
                snapshot_time=self.snapshot_time,
            )
        return state

    # ---- the three questions -----------------------------------------------------------
    def recommend(
        self,
        user_id: str | None,
        n: int,
        *,
        attributes: Mapping[str, object] | None = None,
        declared_tags: Mapping[str, float] | None = None,
        exclude_item_ids: Iterable[str] = (),
        allowed_item_rows: np.ndarray | None = None,
        exclude_seen: bool | None = None,
        recent_events: RecentEvents | None = None,
    ) -> Recommendations:
        """personal for a known user with history; cold_start from attributes/declared tags
        (given, or as stored for a known user without events); otherwise popular.
        exclude_seen drops the items the user had events with in the snapshot, and those of
        recent_events. recent_events (the user's events since the snapshot) fold the user's
        vector in (matching/foldin.py): a known user's query is re-solved from snapshot and
        recent events, and a user the snapshot did not know gets a personal answer."""
        row = self.users.index(user_id) if user_id is not None else None
        excluded = self.item_rows(exclude_item_ids)
        exclude = self.config.index.exclude_seen if exclude_seen is None else exclude_seen
        if row is not None and exclude:
            excluded = np.concatenate([excluded, self.interacted_items(row)])
        if recent_events is not None and len(recent_events):
            declared = None if row is not None else self._given_declared(attributes, declared_tags)
            folded = self.foldin().fold(row, recent_events, declared)
            if folded is not None and len(folded.recent_item_rows):
                if exclude:
                    excluded = np.concatenate([excluded, folded.recent_item_rows])
                known = self.interacted_items(row) if row is not None else np.zeros(0, np.int64)
                recent = newest_first(folded.recent_item_rows)
                history = np.concatenate([recent, known[~member(known, recent)]])
                return Recommendations(
                    "personal",
                    self._items_for(
                        folded.query,
                        SparseRows.of(folded.tags),
                        n,
                        allowed_item_rows,
                        excluded,
                        "recommend",
                        history,
                    ),
                )
        if row is not None and self.is_warm_user(row):
            query = np.asarray(self.user_vectors[row])
            tags = SparseRows.one(self.user_tag_matrix, row)
            history = self.interacted_items(row)
            return Recommendations(
                "personal",
                self._items_for(query, tags, n, allowed_item_rows, excluded, "recommend", history),
            )
        if row is not None and not (attributes or declared_tags):
            declared = self.declared_row(row)
        else:
            declared = SparseRows.of(self._given_declared(attributes, declared_tags))
        if declared.nnz:
            query = self.space.cold_user_row(*declared.row(0))
            return Recommendations(
                "cold_start",
                self._items_for(query, declared, n, allowed_item_rows, excluded, "recommend"),
            )
        return Recommendations("popular", self.popular(n, allowed_item_rows, excluded))

    def similar_items(
        self,
        item_id: str | None,
        n: int,
        *,
        title: str = "",
        text: str = "",
        tags: Mapping[str, float] | None = None,
        allowed_item_rows: np.ndarray | None = None,
        exclude_item_ids: Iterable[str] = (),
    ) -> list[Scored]:
        """Items closest by inner product in the joint space (what this item's audience
        likes). An unknown item is placed by its tags; with no usable tags there is no
        answer."""
        excluded = self.item_rows(exclude_item_ids)
        query, query_tags = self.item_query(item_id, title, text, tags)
        if query is None:
            return []
        row = self.items.index(item_id) if item_id is not None else None
        if row is not None:
            excluded = np.append(excluded, row)
        return self._items_for(query, query_tags, n, allowed_item_rows, excluded, "similar")

    def audience(
        self,
        item_id: str | None,
        n: int,
        *,
        title: str = "",
        text: str = "",
        tags: Mapping[str, float] | None = None,
        allowed_user_rows: np.ndarray | None = None,
        exclude_user_ids: Iterable[str] = (),
        exclude_seen: bool = False,
    ) -> list[Scored]:
        """Users most likely to engage with an item, known or described by its tags.
        exclude_seen drops users with an event on the item in the snapshot (later events
        are the caller's to pass in exclude_user_ids)."""
        query, query_tags = self.item_query(item_id, title, text, tags)
        if query is None:
            return []
        excluded = self.user_rows(exclude_user_ids)
        item_row = self.items.index(item_id) if item_id is not None else None
        if exclude_seen and item_row is not None:
            excluded = np.concatenate([excluded, self.interacted_users(item_row)])
        ids, scores = self.user_index.search(query[None, :], n, allowed_user_rows, excluded)
        rows = ids[0][ids[0] != PAD_ID]
        return self.scored(query, query_tags, rows, scores[0][: len(rows)], "audience")

    def popular(
        self,
        n: int,
        allowed_item_rows: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> list[Scored]:
        scores = np.asarray(self.popularity, dtype=np.float32).copy()
        if allowed_item_rows is not None:
            allowed = np.zeros(len(scores), bool)
            allowed[
                allowed_item_rows[(allowed_item_rows >= 0) & (allowed_item_rows < len(scores))]
            ] = True
            scores[~allowed] = PAD_SCORE
        if excluded is not None and len(excluded):
            scores[excluded[(excluded >= 0) & (excluded < len(scores))]] = PAD_SCORE
        ids, best = top_n(scores[None, :], n)
        return [
            Scored(self.items.id(int(r)), float(s), [POPULAR_REASON])
            for r, s in zip(ids[0], best[0], strict=True)
            if r != PAD_ID
        ]

    # ---- internals -----------------------------------------------------------------------
    def _given_declared(
        self, attributes: Mapping[str, object] | None, declared_tags: Mapping[str, float] | None
    ) -> sp.csr_matrix:
        """Declared data given with the call (a user the snapshot lacks, or whose data changed
        since) as a unit tag row; empty without any."""
        if attributes or declared_tags:
            return sp.csr_matrix(self.tagspace.user_tag_vector(attributes or {}, declared_tags))
        return sp.csr_matrix((1, len(self.tagspace.tags)), dtype=np.float32)

    def declared_tags(self, rows: np.ndarray) -> sp.csr_matrix:
        """Snapshot users' declared tags as unit rows: what a user without events is matched
        by (the cold start's query, online and in matching.precomputed)."""
        return l2_normalize_rows(self.tagspace.user_declared[rows])

    def declared_as_in_snapshot(
        self,
        row: int,
        attributes: Mapping[str, object] | None,
        declared_tags: Mapping[str, float] | None,
    ) -> bool:
        """Whether declared data given with a call for this snapshot user (the live state's,
        None or empty: none) makes the tag row the snapshot held, entry for entry: then a cold
        start from it is the very answer from the snapshot's row."""
        if not (attributes or declared_tags):
            return True  # recommend() then reads the snapshot's row
        given, held = self._given_declared(attributes, declared_tags), self.declared_row(row)
        return np.array_equal(given.indices, held.indices) and np.array_equal(given.data, held.data)

    def declared_row(self, row: int) -> SparseRows:
        """declared_tags() of one user, to the bit, without sparse matrices (per request)."""
        columns, values = SparseRows.one(self.tagspace.user_declared, row).row(0)
        return SparseRows(np.array([0, len(columns)], np.int64), columns, unit_row(values))

    def item_query(
        self, item_id: str | None, title: str, text: str, tags: Mapping[str, float] | None
    ) -> tuple[np.ndarray | None, SparseRows]:
        row = self.items.index(item_id) if item_id is not None else None
        if row is not None:
            item_tags = SparseRows.one(self.tagspace.item_tags, row)
            return np.asarray(self.item_vectors[row]), item_tags
        vector = sp.csr_matrix(self.tagspace.item_tag_vector(title, text, tags))
        if vector.nnz == 0:
            return None, SparseRows.of(vector)
        return self.space.cold_item(vector)[0], SparseRows.of(vector)

    def _items_for(
        self,
        query: np.ndarray,
        query_tags: SparseRows,
        n: int,
        allowed: np.ndarray | None,
        excluded: np.ndarray,
        purpose: str,
        history: np.ndarray | None = None,
    ) -> list[Scored]:
        histories = (
            [np.asarray(history, np.int64)]
            if purpose == "recommend" and history is not None
            else None
        )
        ids, scores = self.ranked_items(query[None, :], n, [excluded], histories, allowed)
        rows = ids[0][ids[0] != PAD_ID]
        return self.scored(query, query_tags, rows, scores[0][: len(rows)], purpose)

    def ranked_items(
        self,
        queries: np.ndarray,
        n: int,
        excluded: list[np.ndarray],
        histories: list[np.ndarray] | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) (m, n), PAD-padded: per query, FAISS candidates without its excluded
        rows, then, given histories (users with history), the ranking stage over them and the
        item-to-item candidates (its ranker was learned on such users; a cold start keeps
        retrieval order). Serving asks one query at a time, matching.precomputed batches."""
        excluded = [np.asarray(rows, np.int64) for rows in excluded]
        ranking = self.ranking if histories is not None else None
        width = self.retrieval_width(n, ranking is not None)
        # the mask once, for the index and the ranker: built from ~all rows it cost 0.2 ms
        mask = allowed_mask(allowed, len(self.items))
        ids, scores = self.item_index.search_each(queries, width, excluded, mask)
        if ranking is not None:
            assert histories is not None
            ids, scores = rank_batch(
                ranking,
                queries,
                self.item_vectors,
                self.space.n_factors,
                histories,
                ids,
                scores,
                n,
                excluded=excluded,
                allowed=mask,
            )
        return ids, scores

    def retrieval_width(self, n: int, ranked: bool) -> int:
        """Candidates FAISS retrieves for an answer of n (the ranker's pool when ranked)."""
        ranking = ranked and self.ranking is not None
        return max(n, self.config.ranking.candidates) if ranking else n

    def scored(
        self,
        query: np.ndarray,
        query_tags: SparseRows,
        rows: np.ndarray,
        scores: np.ndarray,
        purpose: str,
    ) -> list[Scored]:
        """The answer's rows (item rows; user rows for an audience) with their reasons."""
        vocabulary = self.users if purpose == "audience" else self.items
        why = explain(self, query, query_tags, rows, purpose)
        ids = vocabulary.lookup(np.asarray(rows).tolist())  # plain ints: no numpy scalar per row
        return list(map(Scored, ids, np.asarray(scores, np.float64).tolist(), why))

    # ---- persistence (matching/artifact.py) ----------------------------------------------
    def save(self, directory: Path) -> None:
        from matching.artifact import save_model

        save_model(self, directory)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> TrainedModel:
        from matching.artifact import load_model

        return load_model(directory, mmap=mmap)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "items": len(self.items),
            "tags": len(self.tagspace.tags),
            "dim": int(self.item_index.dim),
            "warm_users": int((np.diff(self.seen.indptr) > 0).sum()),
            "interactions": int(self.seen.nnz),
        }
