"""Persona report of a segment: who is in it, and what sets them apart from everyone.

Every figure compares the members with all users of the tag space: share in the segment,
share overall and lift = segment share / overall share (lift 2 means twice as common inside).
Counts are users, not events. All columns are computed at once with sparse matrix sums over
the member rows, never per user. The result is plain JSON (ints, floats, strs, None).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from matching.data import EventLog
from matching.tagspace import LIFECYCLE_STAGES, TAG_SOURCES, TagSpace
from matching.vocabulary import Vocabulary

ATTRIBUTE_NAMESPACES: tuple[str, ...] = ("age", "gender", "region", "income", "occupation", "edu")
AGE_BANDS: tuple[str, ...] = ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
DISTINGUISHING_LIFT = 1.5  # below this a tag hardly tells the segment apart
DISTINGUISHING_SHOWN = 5
NEAR_DUPLICATE_JACCARD = 0.8
NEAR_EVERYONE_SHARE = 0.95


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def _lift(in_segment: float, size: int, overall: float, total: int) -> float | None:
    segment_share, overall_share = _ratio(in_segment, size), _ratio(overall, total)
    if segment_share is None or not overall_share:
        return None
    return segment_share / overall_share


def _figures(in_segment: int, size: int, overall: int, total: int) -> dict[str, Any]:
    return {
        "segment_count": int(in_segment),
        "segment_share": _ratio(in_segment, size) or 0.0,
        "overall_count": int(overall),
        "overall_share": _ratio(overall, total) or 0.0,
        "lift": _lift(in_segment, size, overall, total),
    }


def _users_per_column(matrix: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    """Number of rows (users) with a positive entry in each column."""
    selected = matrix if rows is None else matrix[rows]
    return np.asarray((selected > 0).sum(axis=0)).ravel().astype(np.int64)


def _rows_with_any(matrix: sp.csr_matrix, columns: np.ndarray) -> np.ndarray:
    """Per row: does it have a positive entry in any of `columns` (a boolean column mask)."""
    csr = sp.csr_matrix(matrix)
    entry_rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    hit = columns[csr.indices] & (csr.data > 0)
    found = np.zeros(csr.shape[0], dtype=bool)
    found[entry_rows[hit]] = True
    return found


def _attribute_distributions(
    members: np.ndarray, rows: np.ndarray, tagspace: TagSpace, declared_all: np.ndarray
) -> dict[str, list[dict[str, Any]]]:
    tags = tagspace.tags.ids
    size, total = len(rows), len(members)
    declared = tagspace.user_declared
    declared_members = _users_per_column(declared, rows)
    distributions: dict[str, list[dict[str, Any]]] = {}
    for namespace in ATTRIBUTE_NAMESPACES:
        prefix = namespace + ":"
        columns = np.array([t.startswith(prefix) for t in tags], dtype=bool)
        columns = columns[: declared.shape[1]]
        values = [
            {"value": tags[c][len(prefix) :]}
            | _figures(declared_members[c], size, declared_all[c], total)
            for c in np.flatnonzero(columns).tolist()
            if declared_all[c] > 0
        ]
        if not values:
            continue
        if namespace == "age":
            order = {band: i for i, band in enumerate(AGE_BANDS)}
            values.sort(key=lambda v: (order.get(v["value"], len(order)), v["value"]))
        else:
            values.sort(key=lambda v: (-v["segment_count"], -v["overall_count"], v["value"]))
        has_value = _rows_with_any(declared, columns)
        missing = {"value": None} | _figures(
            size - int(has_value[rows].sum()), size, total - int(has_value.sum()), total
        )
        distributions[namespace] = [*values, missing]
    return distributions


def _column_sums(matrix: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    selected = matrix if rows is None else matrix[rows]
    return np.asarray(selected.sum(axis=0), dtype=np.float64).ravel()


def _top_tags(
    rows: np.ndarray,
    total: int,
    tagspace: TagSpace,
    overall_by_source: dict[str, np.ndarray],
    *,
    limit: int,
    min_count: int,
    exclude: set[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tags ranked by lift of the share of users holding them, and by lift of mean weight.

    Presence alone says little for tags nearly everyone holds (the genres of a film
    catalogue): there the mean weight, members vs all users, tells the groups apart.
    """
    size = len(rows)
    tags = tagspace.tags.ids
    excluded = np.array([t in exclude for t in tags], dtype=bool)
    candidates: list[dict[str, Any]] = []
    for source, overall in overall_by_source.items():
        matrix = _source_matrix(tagspace, source)
        in_segment = _users_per_column(matrix, rows)
        weight_in, weight_all = _column_sums(matrix, rows), _column_sums(matrix)
        lift = (in_segment / max(size, 1)) / np.maximum(overall / max(total, 1), 1e-300)
        weight_lift = (weight_in / max(size, 1)) / np.maximum(weight_all / max(total, 1), 1e-300)
        eligible = (in_segment >= min_count) & (overall > 0) & ~excluded[: len(overall)]
        keep = np.flatnonzero(eligible)
        # Only the best `limit` of each ranking per source become dicts.
        by_share = keep[np.lexsort((-in_segment[keep], -lift[keep]))][:limit]
        by_weight = keep[np.lexsort((-in_segment[keep], -weight_lift[keep]))][:limit]
        for column in np.union1d(by_share, by_weight).tolist():
            candidates.append(
                {"tag": tags[column], "source": source}
                | _figures(in_segment[column], size, overall[column], total)
                | {
                    "segment_mean_weight": float(weight_in[column]) / max(size, 1),
                    "overall_mean_weight": float(weight_all[column]) / max(total, 1),
                    "weight_lift": _lift(weight_in[column], size, weight_all[column], total),
                }
            )
    by_share_rows = sorted(
        candidates, key=lambda t: (-(t["lift"] or 0.0), -t["segment_count"], t["tag"])
    )
    by_weight_rows = sorted(
        candidates, key=lambda t: (-(t["weight_lift"] or 0.0), -t["segment_count"], t["tag"])
    )
    return by_share_rows[:limit], by_weight_rows[:limit]


def _source_matrix(tagspace: TagSpace, source: str) -> sp.csr_matrix:
    matrices: dict[str, sp.csr_matrix] = {
        "declared": tagspace.user_declared,
        "behavioural": tagspace.user_behavioural,
        "predicted": tagspace.user_predicted,
        "system": tagspace.user_system,
    }
    return matrices[source]


def _top_items(
    members: np.ndarray, events: EventLog, item_ids: Sequence[str], *, limit: int
) -> list[dict[str, Any]]:
    total, n_items = len(members), len(item_ids)
    known = (events.user < total) & (events.item < n_items)
    engaged = sp.csr_matrix(
        (np.ones(int(known.sum()), np.int64), (events.user[known], events.item[known])),
        shape=(total, n_items),
    )  # duplicates summed: entry = number of events of that user on that item
    users_all = np.bincount(engaged.indices, minlength=n_items)
    member_rows = engaged[np.flatnonzero(members)]
    users_in = np.bincount(member_rows.indices, minlength=n_items)
    events_in = np.asarray(member_rows.sum(axis=0)).ravel()
    size = int(members.sum())
    ranked = np.lexsort((-users_all, -users_in))
    ranked = ranked[users_in[ranked] > 0][:limit]
    return [
        {"item_id": item_ids[i], "segment_events": int(events_in[i])}
        | _figures(users_in[i], size, users_all[i], total)
        for i in ranked.tolist()
    ]


def _overlaps(members: np.ndarray, others: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    size = int(members.sum())
    rows: list[dict[str, Any]] = []
    for name, other in others.items():
        other = np.asarray(other, dtype=bool)
        if other.shape != members.shape:
            raise ValueError(f"segment {name!r} has {len(other)} users, expected {len(members)}")
        both = int((members & other).sum())
        either = int((members | other).sum())
        other_size = int(other.sum())
        rows.append(
            {
                "segment": name,
                "size": other_size,
                "intersection": both,
                "jaccard": _ratio(both, either) or 0.0,
                "share_of_this": _ratio(both, size) or 0.0,
                "share_of_other": _ratio(both, other_size) or 0.0,
            }
        )
    rows.sort(key=lambda r: (-r["jaccard"], r["segment"]))
    return rows


def persona_report(
    members: np.ndarray,
    tagspace: TagSpace,
    events: EventLog,
    item_ids: Sequence[str] | Vocabulary,
    *,
    top_tags: int = 20,
    top_items: int = 10,
    min_count: int = 5,
    min_size: int = 100,
    other_segments: dict[str, np.ndarray] | None = None,
    exclude_tags: Iterable[str] = (),
) -> dict[str, Any]:
    """Persona of the users where `members` is True (a mask over the tag space's users).

    `exclude_tags` keeps tags out of the top-tag list, typically referenced_tags(rule): the
    rule's own tags have a trivially high lift and say nothing new. `min_count` is the fewest
    members that must carry a tag for its lift to be reported; `min_size` the smallest
    segment worth acting on (a quality warning below it).
    """
    members = np.asarray(members, dtype=bool)
    total = int(tagspace.user_declared.shape[0])
    if members.shape != (total,):
        raise ValueError(f"members has shape {members.shape}, expected ({total},)")
    ids = item_ids.ids if isinstance(item_ids, Vocabulary) else item_ids
    rows = np.flatnonzero(members)
    size = len(rows)
    excluded = set(exclude_tags)
    overall_by_source = {s: _users_per_column(_source_matrix(tagspace, s)) for s in TAG_SOURCES}

    tags, tags_by_weight = _top_tags(
        rows,
        total,
        tagspace,
        overall_by_source,
        limit=top_tags,
        min_count=min_count,
        exclude=excluded,
    )
    stages_all = np.bincount(tagspace.lifecycle.astype(np.int64), minlength=len(LIFECYCLE_STAGES))
    stages_in = np.bincount(
        tagspace.lifecycle[rows].astype(np.int64), minlength=len(LIFECYCLE_STAGES)
    )
    overlaps = _overlaps(members, other_segments or {})
    distinguishing = [t["tag"] for t in tags if (t["lift"] or 0.0) >= DISTINGUISHING_LIFT]
    return {
        "size": size,
        "total_users": total,
        "share": _ratio(size, total) or 0.0,
        "attributes": _attribute_distributions(
            members, rows, tagspace, overall_by_source["declared"]
        ),
        "top_tags": tags,
        "top_tags_by_weight": tags_by_weight,
        "excluded_tags": sorted(excluded),
        "top_items": _top_items(members, events, ids, limit=top_items),
        "lifecycle": [
            {"stage": stage} | _figures(stages_in[i], size, stages_all[i], total)
            for i, stage in enumerate(LIFECYCLE_STAGES)
        ],
        "quality": {
            "size": size,
            "share": _ratio(size, total) or 0.0,
            "overlaps": overlaps,
            "max_jaccard": max((o["jaccard"] for o in overlaps), default=None),
            "distinguishing_tags": distinguishing[:DISTINGUISHING_SHOWN],
            "warnings": _warnings(size, total, overlaps, distinguishing, min_size, min_count),
        },
    }


def _warnings(
    size: int,
    total: int,
    overlaps: list[dict[str, Any]],
    distinguishing: list[str],
    min_size: int,
    min_count: int,
) -> list[str]:
    """The usual tests of a good segment: large enough to act on, distinct, explainable."""
    if size == 0:
        return ["the segment is empty"]
    warnings = []
    if size < min_size:
        warnings.append(f"only {size} users: fewer than {min_size} is too small to act on")
    if total and size / total >= NEAR_EVERYONE_SHARE:
        warnings.append(f"holds {size / total:.0%} of all users: hardly narrower than everyone")
    for overlap in overlaps:
        if overlap["jaccard"] >= NEAR_DUPLICATE_JACCARD:
            warnings.append(
                f"nearly the same users as {overlap['segment']!r} "
                f"(Jaccard {overlap['jaccard']:.2f})"
            )
    if not distinguishing:
        warnings.append(
            f"no tag held by at least {min_count} members has lift >= {DISTINGUISHING_LIFT}: "
            "the segment is hard to explain"
        )
    return warnings


# ---------------------------------------------------------------- terminal rendering


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        # Mean weights of rare tags are tiny; three decimals would print them as 0.000.
        return f"{value:.3f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2e}"
    return str(value)


def _table(title: str, headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers, *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    # Numbers right-aligned, text left-aligned, as a reader scans them.
    numeric = [
        all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]
    lines = [title]
    for index, row in enumerate(cells):
        padded = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


_SHARES = ["in segment", "share", "overall", "overall share", "lift"]


_SHARE_KEYS = ("segment_count", "segment_share", "overall_count", "overall_share", "lift")


def _share_row(label: object, row: dict[str, Any]) -> list[object]:
    return [label, *(row[key] for key in _SHARE_KEYS)]


def format_report_tables(report: dict[str, Any]) -> str:
    """The persona report as plain aligned text tables, for `tagmatch segment report`."""
    quality = report["quality"]
    parts = [
        f"size {report['size']} of {report['total_users']} users ({report['share']:.2%})",
    ]
    for namespace, values in report["attributes"].items():
        rows = [
            _share_row("(not declared)" if v["value"] is None else v["value"], v) for v in values
        ]
        parts.append(_table(f"attribute {namespace}", [namespace, *_SHARES], rows))
    rows = [[t["tag"], t["source"], *_share_row(None, t)[1:]] for t in report["top_tags"]]
    parts.append(_table("top tags by lift", ["tag", "source", *_SHARES], rows))
    weight_keys = ("tag", "source", "segment_mean_weight", "overall_mean_weight", "weight_lift")
    rows = [[t[k] for k in weight_keys] for t in report["top_tags_by_weight"]]
    headers = ["tag", "source", "mean weight in segment", "mean weight overall", "weight lift"]
    parts.append(_table("top tags by weight lift", headers, rows))
    rows = [
        [i["item_id"], i["segment_events"], *_share_row(None, i)[1:]] for i in report["top_items"]
    ]
    parts.append(_table("top items", ["item", "events", *_SHARES], rows))
    rows = [_share_row(s["stage"], s) for s in report["lifecycle"]]
    parts.append(_table("lifecycle mix", ["stage", *_SHARES], rows))
    if quality["overlaps"]:
        headers = ["segment", "size", "both", "jaccard", "share of this", "share of other"]
        keys = ("segment", "size", "intersection", "jaccard", "share_of_this", "share_of_other")
        rows = [[o[k] for k in keys] for o in quality["overlaps"]]
        parts.append(_table("overlap with other segments", headers, rows))
    lines = ["quality", f"distinguishing tags: {', '.join(quality['distinguishing_tags']) or '-'}"]
    lines += [f"warning: {w}" for w in quality["warnings"]]
    parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
