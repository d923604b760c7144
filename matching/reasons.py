"""Why each row of an answer is in it: the tags it shares with the query, strongest first, and
a collaborative-filtering reason where the CF part of its score outweighs the tag part.

Reasons are computed for every row answered (an audience of 100 users: 100 lists), so the
work is a fixed number of numpy calls per answer, not per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from matching.sparse_rows import SparseRows
from matching.vocabulary import Vocabulary

if TYPE_CHECKING:
    from matching.model import TrainedModel

POPULAR_REASON = "popular"
CF_REASONS = {
    "recommend": "users like you",
    "audience": "similar users engaged",
    "similar": "liked by the same users",
}


def explain(
    model: TrainedModel,
    query: np.ndarray,
    query_tags: SparseRows,
    rows: np.ndarray,
    purpose: str,
) -> list[list[str]]:
    """Per answered row (user rows for an audience, else item rows), its shared tags, then
    the CF reason when CF outweighs the tags."""
    if len(rows) == 0:
        return []
    if purpose == "audience":
        vectors, candidate_tags = model.user_vectors, model.user_tags(rows)
    else:
        vectors = model.item_vectors
        candidate_tags = SparseRows.take(model.tagspace.item_tags, rows)
    cf, tag = model.space.cf_and_tag_parts(query, np.asarray(vectors[rows]))
    return shared_tags(
        query_tags,
        candidate_tags,
        model.tagspace.tags,
        model.config.hybrid.reason_tags,
        then=(CF_REASONS[purpose], cf > np.maximum(tag, 0.0)),
    )


def shared_tags(
    query: SparseRows,
    candidates: SparseRows,
    tags: Vocabulary,
    top: int,
    then: tuple[str, np.ndarray] | None = None,
) -> list[list[str]]:
    """Per candidate row, the tags it shares with the query's one row, strongest product of
    weights first (ties by tag column), at most `top`; then `then`'s reason where its bool
    mask over the candidates holds. A fixed number of numpy calls for all candidates and one
    list slice per candidate: this runs for every answered row (an audience of 100 spent
    more on its reasons than on everything else the model does)."""
    n = len(candidates)
    if n == 0:
        return []
    query_columns, query_weights = query.row(0)
    order = np.argsort(query_columns, kind="stable")
    query_columns, query_weights = query_columns[order], query_weights[order]
    q = len(query_columns)
    # A candidate x query-tag table of weight products (-inf: not shared), sorted along its
    # short axis: a query has tens of tags, and sorting every shared entry by (row, weight,
    # column) cost more than the rest of the answer. It is filled by looking each (candidate,
    # query tag) pair up among the candidates' entries keyed by row * n_tags + column: a
    # binary search per cell, no pass per candidate entry beyond the keys (users carry
    # many more tags than the query).
    strength = np.full((n, q), -np.inf, np.float32)
    if q and candidates.nnz:
        width = np.int64(len(tags))
        keys = np.repeat(np.arange(n, dtype=np.int64) * width, np.diff(candidates.indptr))
        keys += candidates.indices
        data = candidates.data
        if not bool((keys[1:] > keys[:-1]).all()):  # columns unsorted within a row
            order = np.argsort(keys, kind="stable")
            keys, data = keys[order], data[order]
        wanted = (np.arange(n, dtype=np.int64)[:, None] * width + query_columns).ravel()
        at = np.maximum(np.searchsorted(keys, wanted, side="right") - 1, 0)
        products = data[at] * np.tile(query_weights, n)
        shared = (keys[at] == wanted) & (products != 0)
        strength[shared.reshape(n, q)] = products[shared]
    # Stable: ties go to the lower column, as the query's columns ascend. Finite strengths
    # sort first, so a row's first `counts` are its shared tags.
    best = np.argsort(-strength, axis=1, kind="stable")[:, :top]
    counts = np.minimum(np.isfinite(strength).sum(axis=1), best.shape[1])
    names = tags.lookup(query_columns)
    picked = np.arange(best.shape[1]) < counts[:, None]
    if then is not None:  # one more column, pointing at the reason appended (index q)
        reason, where = then
        best = np.hstack([best, np.full((n, 1), q, best.dtype)])
        picked = np.hstack([picked, np.asarray(where, bool)[:, None]])
        names.append(reason)
    flat = np.array(names, dtype=object)[best[picked]].tolist()
    ends = np.cumsum(picked.sum(axis=1)).tolist()
    return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
