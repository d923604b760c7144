"""User and item vectors in one tag space (DESIGN.md, "The tag space").

Contract shared by the engine, segments and the API: see TagSpace below. `build_tagspace`
computes every source from a Snapshot with sparse matrix products; the per-user Python
work is limited to reading declared attributes off the records.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from matching.config import EventConfig, TagConfig
from matching.csr_rows import l2_normalize_rows, top_k_per_row, widen
from matching.data import SECONDS_PER_DAY, ItemRecord, Snapshot, UserRecord
from matching.tag_prediction import predict_tags
from matching.tagging import (
    LIFECYCLE_STAGES,
    attribute_tags,
    build_item_tags,
    declared_item_tags,
    keyword_counts,
    lifecycle_stages,
    rfm_bands,
    sublinear_tf_idf,
    system_matrix,
    system_tag_names,
    user_activity,
)
from matching.vocabulary import Vocabulary

TAG_SOURCES: tuple[str, ...] = ("declared", "behavioural", "predicted", "system")
_BLOCK_USERS = 100_000  # bounds the user x tag product held in memory at once


def _empty_f32() -> np.ndarray:
    return np.zeros(0, np.float32)


def _empty_f64() -> np.ndarray:
    return np.zeros(0, np.float64)


@dataclass(slots=True)
class TagSpace:
    """Every matrix is CSR float32 with columns indexed by `tags`.

    Rows of item_tags follow the snapshot's item vocabulary, rows of user_* its user
    vocabulary. user_predicted holds confidences; user_system holds 1.0 for the user's
    `life:<stage>` and `rfm:r<k>`/`rfm:f<k>`/`rfm:m<k>` tags.
    """

    tags: Vocabulary
    item_tags: sp.csr_matrix  # declared + extracted keywords, rows L2-normalised
    user_declared: sp.csr_matrix
    user_behavioural: sp.csr_matrix  # time-decayed interest, rows L2-normalised
    user_predicted: sp.csr_matrix  # confidence in [0, 1], only above the threshold
    user_system: sp.csr_matrix
    lifecycle: np.ndarray  # int8 index into LIFECYCLE_STAGES, per user
    rfm: np.ndarray  # int8 (n_users, 3): recency, frequency, monetary band; 0 = no data
    keyword_idf: np.ndarray = field(default_factory=_empty_f32)  # per tag column, 0 if not kw:
    keyword_weight: float = 0.5
    keywords_per_item: int = 8
    first_ts: np.ndarray = field(default_factory=_empty_f64)  # per user, NaN without events
    last_ts: np.ndarray = field(default_factory=_empty_f64)
    event_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def user_matrix(self) -> sp.csr_matrix:
        """Users for matching: declared (+ predicted in its place) and behavioural, each half
        of the profile normalised, the sum L2-normalised. System tags do not match items."""
        # the sums are new matrices of our own: normalised in place, not copied again
        profile = l2_normalize_rows(self.user_declared + self.user_predicted, in_place=True)
        return l2_normalize_rows(profile + self.user_behavioural, in_place=True)

    def user_tag_vector(
        self, attributes: Mapping[str, object], declared_tags: Mapping[str, float] | None = None
    ) -> sp.csr_matrix:
        """A user outside the snapshot (cold start): declared tags only, known columns only."""
        return l2_normalize_rows(self._row(user_declared_tags(attributes, declared_tags)))

    def item_tag_vector(
        self,
        title: str,
        text: str,
        tags: Mapping[str, float] | None = None,
        category: str | None = None,
    ) -> sp.csr_matrix:
        """A cold item, weighted like catalogue items (keywords with the catalogue IDF)."""
        declared = l2_normalize_rows(self._row(declared_item_tags(tags or {}, category)))
        counts = keyword_counts(title, text)
        cols = self.tags.indices([f"kw:{word}" for word in counts])
        tf = np.fromiter(counts.values(), np.float32, len(counts))
        known = cols >= 0
        known[known] = self.keyword_idf[cols[known]] > 0
        cols, tf = cols[known], tf[known]
        weights = sublinear_tf_idf(tf, self.keyword_idf[cols])
        keep = np.lexsort((cols, -weights))[: self.keywords_per_item]
        keywords = sp.csr_matrix(
            (weights[keep], (np.zeros(len(keep), np.int64), cols[keep])), shape=(1, len(self.tags))
        )
        return l2_normalize_rows(declared + self.keyword_weight * l2_normalize_rows(keywords))

    def user_persona(
        self,
        row: int,
        attributes: Mapping[str, object] | None = None,
        declared_tags: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """The persona of snapshot user `row`. Pass the user's current attributes/tags to show
        declared tags as of now (they change on ingest); a prediction for an attribute the
        user has since declared is dropped."""
        if attributes is None and declared_tags is None:
            declared = _row_entries(self.user_declared, self.tags, row)
        else:
            declared = user_declared_tags(attributes or {}, declared_tags)
        declared_namespaces = {tag.split(":", 1)[0] for tag in declared}
        predicted = {
            tag: weight
            for tag, weight in _row_entries(self.user_predicted, self.tags, row).items()
            if tag.split(":", 1)[0] not in declared_namespaces
        }
        behavioural = _row_entries(self.user_behavioural, self.tags, row)
        system = _row_entries(self.user_system, self.tags, row)
        r, f, m = (int(x) for x in self.rfm[row])
        return {
            "tags": _tag_list(
                ("declared", declared),
                ("behavioural", behavioural),
                ("predicted", predicted),
                ("system", system),
            ),
            "top_interests": _tag_list(("behavioural", behavioural))[:10],
            "lifecycle": LIFECYCLE_STAGES[int(self.lifecycle[row])],
            "rfm": {"r": r, "f": f, "m": m},
        }

    def _row(self, weights: Mapping[str, float]) -> sp.csr_matrix:
        cols = self.tags.indices(weights)
        vals = np.fromiter(weights.values(), np.float32, len(weights))
        known = cols >= 0
        return sp.csr_matrix(
            (vals[known], (np.zeros(int(known.sum()), np.int64), cols[known])),
            shape=(1, len(self.tags)),
        )


def declared_persona(
    attributes: Mapping[str, object], declared_tags: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The persona of a user no model has seen yet: declared tags only, lifecycle new."""
    declared = user_declared_tags(attributes, declared_tags)
    return {
        "tags": _tag_list(("declared", declared)),
        "top_interests": [],
        "lifecycle": "new",
        "rfm": {"r": 0, "f": 0, "m": 0},
    }


def user_declared_tags(
    attributes: Mapping[str, object], declared_tags: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Attribute tags united with the user's declared tags (the larger weight wins)."""
    tags = attribute_tags(attributes)
    for tag, weight in (declared_tags or {}).items():
        tag = tag.strip()
        if tag and weight:
            tags[tag] = max(float(weight), tags.get(tag, float("-inf")))
    return tags


def _row_entries(matrix: sp.csr_matrix, tags: Vocabulary, row: int) -> dict[str, float]:
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    return dict(zip(tags.lookup(matrix.indices[lo:hi]), matrix.data[lo:hi].tolist(), strict=True))


def _tag_list(*sources: tuple[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    entries = [
        {"tag": tag, "weight": round(float(weight), 4), "source": source}
        for source, weights in sources
        for tag, weight in weights.items()
    ]
    return sorted(entries, key=lambda e: (-e["weight"], e["tag"]))


def build_tagspace(
    snapshot: Snapshot,
    config: TagConfig,
    event_config: EventConfig,
    tags: Vocabulary | None = None,
    records: RecordTags | None = None,
) -> TagSpace:
    """All tag vectors of a snapshot. Passing the previous tag vocabulary keeps its columns.
    `records`: the record tags of this run (record_tags), used when they were built for these
    records, starting vocabulary and keyword settings (RecordTags.fits), else built here."""
    vocab = _starting_vocabulary(tags, config)
    if records is not None and records.fits(snapshot, vocab, config):
        vocab.extend(records.vocab[len(vocab) :])
        item_tags, keyword_idf, declared = records.copies()
    else:
        built = _build_record_tags(snapshot, vocab, config)
        item_tags, keyword_idf, declared = built.item_tags, built.keyword_idf, built.declared
    n_tags = len(vocab)

    interactions = interaction_weights(snapshot, config, event_config)
    behavioural = behavioural_tags(interactions, item_tags, config.behaviour_top_tags)
    predicted = predict_tags(declared, behavioural, interactions, vocab, config)

    first, last, count, monetary, has_value = user_activity(snapshot.events, snapshot.n_users)
    lifecycle = lifecycle_stages(first, last, count, snapshot.now, config.lifecycle)
    rfm = rfm_bands(last, count, monetary, has_value, config.lifecycle.rfm_bands)
    return TagSpace(
        tags=vocab,
        item_tags=item_tags,
        user_declared=declared,
        user_behavioural=behavioural,
        user_predicted=widen(predicted, n_tags),
        user_system=system_matrix(lifecycle, rfm, vocab),
        lifecycle=lifecycle,
        rfm=rfm,
        keyword_idf=keyword_idf,
        keyword_weight=config.keyword_weight,
        keywords_per_item=config.keywords_per_item,
        first_ts=np.where(count > 0, first, np.nan),
        last_ts=np.where(count > 0, last, np.nan),
        event_count=count.astype(np.int32),
    )


@dataclass(slots=True)
class RecordTags:
    """Item tags, keyword IDF and declared user tags of a set of records: they come from the
    records and the starting vocabulary alone, never from events. Every tag-space build of
    one training run (search, holdout fit, cold-item fit, final fit) gets the same record
    objects (`restrict` only filters events), so pipeline.train builds these once and hands
    them to each build. A record's dicts are not edited in place once built."""

    items: tuple[ItemRecord, ...]
    users: tuple[UserRecord, ...]
    key: tuple[tuple[str, ...], int, float]  # starting vocabulary, keyword settings
    vocab: tuple[str, ...]  # after the build
    item_tags: sp.csr_matrix
    keyword_idf: np.ndarray
    declared: sp.csr_matrix

    def fits(self, snapshot: Snapshot, vocab: Vocabulary, config: TagConfig) -> bool:
        """Built from these very record objects, in this order, with these settings."""
        return (
            self.key == _record_key(vocab, config)
            and len(self.items) == len(snapshot.items)
            and len(self.users) == len(snapshot.users)
            and all(map(operator.is_, self.items, snapshot.items))
            and all(map(operator.is_, self.users, snapshot.users))
        )

    def copies(self) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
        """What a build gets: its own copies, so the shared ones stay as built."""
        return self.item_tags.copy(), self.keyword_idf.copy(), self.declared.copy()


def record_tags(
    snapshot: Snapshot, config: TagConfig, tags: Vocabulary | None = None
) -> RecordTags:
    """The record tags build_tagspace(snapshot, config, _, tags) would build, for reuse by
    every build of the same records in one run."""
    return _build_record_tags(snapshot, _starting_vocabulary(tags, config), config)


def _starting_vocabulary(tags: Vocabulary | None, config: TagConfig) -> Vocabulary:
    vocab = Vocabulary(tags.ids if tags is not None else ())
    vocab.extend(system_tag_names(config.lifecycle.rfm_bands))
    return vocab


def _record_key(vocab: Vocabulary, config: TagConfig) -> tuple[tuple[str, ...], int, float]:
    return tuple(vocab.ids), config.keywords_per_item, config.keyword_weight


def _build_record_tags(snapshot: Snapshot, vocab: Vocabulary, config: TagConfig) -> RecordTags:
    """Extends `vocab` by the records' tags; matrices widened to it."""
    key = _record_key(vocab, config)
    items = build_item_tags(snapshot.items, vocab, config)
    declared = _declared_matrix(snapshot.users, vocab)
    n_tags = len(vocab)
    keyword_idf = np.zeros(n_tags, np.float32)
    keyword_idf[: len(items.keyword_idf)] = items.keyword_idf
    return RecordTags(
        items=tuple(snapshot.items),
        users=tuple(snapshot.users),
        key=key,
        vocab=tuple(vocab.ids),
        item_tags=widen(items.matrix, n_tags),
        keyword_idf=keyword_idf,
        declared=widen(declared, n_tags),
    )


def _declared_matrix(users: Sequence[UserRecord], vocab: Vocabulary) -> sp.csr_matrix:
    # one pass per stage rather than per tag: this runs over every user of the snapshot
    per_user = [user_declared_tags(user.attributes, user.tags) for user in users]
    counts = np.fromiter(map(len, per_user), np.int64, len(per_user))
    n = int(counts.sum())
    cols = np.fromiter(map(vocab.add, (t for tags in per_user for t in tags)), np.int64, n)
    vals = np.fromiter((w for tags in per_user for w in tags.values()), np.float32, n)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    matrix = sp.csr_matrix((vals, cols, indptr), shape=(len(users), len(vocab)))
    matrix.sort_indices()  # as the COO build it replaces: columns ascending in each row
    return matrix


def interaction_weights(
    snapshot: Snapshot, config: TagConfig, event_config: EventConfig
) -> sp.csr_matrix:
    """User x item: sum of event type weight x 0.5 ** (age / behaviour half-life)."""
    events = snapshot.events
    type_weight = np.array(
        [event_config.weights.get(n, event_config.unknown_type_weight) for n in events.type_names]
        or [0.0],
        np.float64,
    )
    age_days = np.maximum(snapshot.now - events.ts, 0.0) / SECONDS_PER_DAY
    weight = type_weight[events.type_code] * np.exp2(-age_days / config.behaviour_half_life_days)
    return sp.csr_matrix(
        (weight.astype(np.float32), (events.user, events.item)),
        shape=(snapshot.n_users, snapshot.n_items),
    )


def behavioural_tags(
    interactions: sp.csr_matrix, item_tags: sp.csr_matrix, top_tags: int
) -> sp.csr_matrix:
    """Interest tags: interactions @ item tags, top `top_tags` per user, L2-normalised."""
    # each block normalised on its own (a row's norm is its own): no second full-size copy;
    # in place, as the product and its top k are this block's own
    blocks = [
        l2_normalize_rows(
            top_k_per_row(interactions[start : start + _BLOCK_USERS] @ item_tags, top_tags),
            in_place=True,
        )
        for start in range(0, interactions.shape[0], _BLOCK_USERS)
    ]
    if not blocks:
        return l2_normalize_rows(item_tags[:0])
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))


_MATRICES = ("item_tags", "user_declared", "user_behavioural", "user_predicted", "user_system")
_ARRAYS = ("lifecycle", "rfm", "keyword_idf", "first_ts", "last_ts", "event_count")


def tagspace_to_arrays(space: TagSpace) -> dict[str, np.ndarray]:
    """Plain numpy arrays (no pickles) for np.savez; the inverse is tagspace_from_arrays."""
    out: dict[str, np.ndarray] = {"tags": np.array(space.tags.to_list(), dtype=np.str_)}
    for name in _MATRICES:
        m: sp.csr_matrix = getattr(space, name)
        out[f"{name}__data"] = m.data
        out[f"{name}__indices"] = m.indices
        out[f"{name}__indptr"] = m.indptr
        out[f"{name}__shape"] = np.array(m.shape, np.int64)
    for name in _ARRAYS:
        out[name] = np.asarray(getattr(space, name))
    out["keyword_weight"] = np.array(space.keyword_weight, np.float64)
    out["keywords_per_item"] = np.array(space.keywords_per_item, np.int64)
    return out


def tagspace_from_arrays(arrays: Mapping[str, np.ndarray]) -> TagSpace:
    matrices = {
        name: sp.csr_matrix(
            (arrays[f"{name}__data"], arrays[f"{name}__indices"], arrays[f"{name}__indptr"]),
            shape=tuple(int(x) for x in arrays[f"{name}__shape"]),
        )
        for name in _MATRICES
    }
    return TagSpace(
        tags=Vocabulary.from_list([str(t) for t in arrays["tags"]]),
        **matrices,
        **{name: np.asarray(arrays[name]) for name in _ARRAYS},
        keyword_weight=float(arrays["keyword_weight"]),
        keywords_per_item=int(arrays["keywords_per_item"]),
    )
