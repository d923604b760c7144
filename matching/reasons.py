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
    # column) cost more than the rest of the answer.
    strength = np.full((n, q), -np.inf, np.float32)
    if q:
        # Most of a candidate's tags are not the query's (a user holds ~50): a table over the
        # tag columns finds the shared entries in one gather, the rest works on those only.
        member = np.zeros(len(tags), bool)
        member[query_columns] = True
        shared = np.flatnonzero(member[candidates.indices])
        at = np.searchsorted(query_columns, candidates.indices[shared])
        products = candidates.data[shared] * query_weights[at]
        keep = products != 0
        rows = np.searchsorted(candidates.indptr, shared, side="right") - 1
        strength[rows[keep], at[keep]] = products[keep]
    # Stable: ties go to the lower column, as the query's columns ascend. Finite strengths
    # sort first, so a row's first `counts` are its shared tags.
    k = min(top, q)
    best = np.argsort(-strength, axis=1, kind="stable")[:, :k]
    counts = np.minimum(np.isfinite(strength).sum(axis=1), k)
    names = tags.lookup(query_columns)
    if then is None:
        picked = np.arange(k) < counts[:, None]
    else:  # one more column, pointing at the reason appended (index q)
        reason, where = then
        names.append(reason)
        best = np.concatenate([best, np.full((n, 1), q, best.dtype)], axis=1)
        picked = np.arange(k + 1) < counts[:, None]
        picked[:, k] = where
    flat = np.array(names, dtype=object)[best[picked]].tolist()
    ends = np.cumsum(picked.sum(axis=1)).tolist()
    return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
