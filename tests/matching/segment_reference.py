"""Test support for segments: a small random tag space, and a per-user reference evaluator.

The reference reads each user's rows with plain Python and applies the documented semantics
one user at a time, so it shares no code with the vectorised evaluator it checks.
bench/segments_bench.py uses it as the per-user baseline.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from matching.data import SECONDS_PER_DAY as DAY
from matching.data import EventLog
from matching.segment_ast import (
    And,
    AttributeIs,
    EventCount,
    HasTag,
    LifecycleIs,
    Node,
    Not,
    Or,
    RfmCompare,
    TagCompare,
)
from matching.tagspace import LIFECYCLE_STAGES, TagSpace
from matching.vocabulary import Vocabulary

NOW = 1_700_000_000.0
AGE_BANDS = ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "age": AGE_BANDS,
    "gender": ("f", "m"),
    "region": ("上海", "北京", "广州"),
    "income": ("<5k", "5k-20k", "20k+"),
    "occupation": ("engineer", "teacher"),
    "edu": ("bachelor", "master"),
}
INTEREST_TAGS = ("kw:瑜伽", "kw:跑步", "genre:Comedy", "genre:Drama", "cat:sports")
# 0.2 and 0.1 are not exact in float32: they test that comparisons are not done in float32.
WEIGHTS = (0.1, 0.2, 0.25, 0.5, 1.0)
CONFIDENCES = (0.6, 0.8, 0.95)
EVENT_TYPES = ("view", "click", "purchase")
# Offsets in days before NOW, including exact window edges and events after NOW.
EVENT_AGES = (0.0, 1.0, 6.5, 7.0, 7.00001, 29.9, 30.0, 30.00001, 90.0, -0.5)


def all_tags() -> list[str]:
    tags = [f"{ns}:{v}" for ns, values in ATTRIBUTE_VALUES.items() for v in values]
    tags += ["attr:plan=gold", "attr:plan=free", *INTEREST_TAGS]
    tags += [f"life:{s}" for s in LIFECYCLE_STAGES]
    tags += [f"rfm:{b}{k}" for b in "rfm" for k in range(1, 6)]
    return tags


def _csr(rows: list[dict[str, float]], tags: Vocabulary) -> sp.csr_matrix:
    row_index = [r for r, row in enumerate(rows) for _ in row]
    columns = [tags.index(t) for row in rows for t in row]
    data = [w for row in rows for w in row.values()]
    shape = (len(rows), len(tags))
    return sp.csr_matrix((np.asarray(data, np.float32), (row_index, columns)), shape=shape)


def random_tagspace(
    seed: int, n_users: int = 60, n_items: int = 12, n_events: int = 400
) -> tuple[TagSpace, EventLog]:
    rng = np.random.default_rng(seed)
    tags = Vocabulary.from_list(all_tags())
    declared: list[dict[str, float]] = []
    behavioural: list[dict[str, float]] = []
    predicted: list[dict[str, float]] = []
    system: list[dict[str, float]] = []
    lifecycle = rng.integers(0, len(LIFECYCLE_STAGES), n_users).astype(np.int8)
    rfm = rng.integers(0, 6, (n_users, 3)).astype(np.int8)
    for user in range(n_users):
        row = {
            f"{ns}:{rng.choice(values)}": 1.0
            for ns, values in ATTRIBUTE_VALUES.items()
            if rng.random() < 0.7
        }
        if rng.random() < 0.3:
            row[f"attr:plan={rng.choice(['gold', 'free'])}"] = 1.0
        for tag in rng.choice(INTEREST_TAGS, rng.integers(0, 3), replace=False):
            row[str(tag)] = float(rng.choice(WEIGHTS))
        declared.append(row)
        picks = rng.choice(INTEREST_TAGS, rng.integers(0, 4), replace=False)
        behavioural.append({str(t): float(rng.choice(WEIGHTS)) for t in picks})
        guesses = {}
        if not any(t.startswith("gender:") for t in row) and rng.random() < 0.8:
            guesses[f"gender:{rng.choice(['f', 'm'])}"] = float(rng.choice(CONFIDENCES))
        predicted.append(guesses)
        flags = {f"life:{LIFECYCLE_STAGES[lifecycle[user]]}": 1.0}
        flags |= {f"rfm:{b}{rfm[user, k]}": 1.0 for k, b in enumerate("rfm") if rfm[user, k]}
        system.append(flags)
    items = [
        {str(t): float(rng.choice(WEIGHTS)) for t in rng.choice(INTEREST_TAGS, 2, replace=False)}
        for _ in range(n_items)
    ]
    tagspace = TagSpace(
        tags=tags,
        item_tags=_csr(items, tags),
        user_declared=_csr(declared, tags),
        user_behavioural=_csr(behavioural, tags),
        user_predicted=_csr(predicted, tags),
        user_system=_csr(system, tags),
        lifecycle=lifecycle,
        rfm=rfm,
    )
    events = EventLog.from_columns(
        user=rng.integers(0, n_users, n_events),
        item=rng.integers(0, n_items, n_events),
        types=rng.choice(EVENT_TYPES, n_events),
        ts=NOW - rng.choice(EVENT_AGES, n_events) * DAY,
    )
    return tagspace, events


@dataclass(slots=True)
class UserView:
    """One user's data as plain Python values."""

    sources: dict[str, dict[str, float]]
    stage: str
    rfm: tuple[int, int, int]
    events: list[tuple[str, int, float]] = field(default_factory=list)  # type, item, ts


def _row(matrix: sp.csr_matrix, row: int, tags: Sequence[str]) -> dict[str, float]:
    start, end = int(matrix.indptr[row]), int(matrix.indptr[row + 1])
    columns = matrix.indices[start:end].tolist()
    return {
        tags[c]: float(w) for c, w in zip(columns, matrix.data[start:end].tolist(), strict=True)
    }


def user_views(tagspace: TagSpace, events: EventLog, rows: Sequence[int]) -> list[UserView]:
    tags = tagspace.tags.ids
    matrices = {
        "declared": tagspace.user_declared,
        "behavioural": tagspace.user_behavioural,
        "predicted": tagspace.user_predicted,
        "system": tagspace.user_system,
    }
    views = {
        row: UserView(
            sources={s: _row(m, row, tags) for s, m in matrices.items()},
            stage=LIFECYCLE_STAGES[int(tagspace.lifecycle[row])],
            rfm=(int(tagspace.rfm[row, 0]), int(tagspace.rfm[row, 1]), int(tagspace.rfm[row, 2])),
        )
        for row in rows
    }
    for user, item, code, ts in zip(
        events.user.tolist(),
        events.item.tolist(),
        events.type_code.tolist(),
        events.ts.tolist(),
        strict=True,
    ):
        if user in views:
            views[user].events.append((events.type_names[code], item, ts))
    return [views[row] for row in rows]


def item_views(tagspace: TagSpace) -> list[dict[str, float]]:
    return [
        _row(tagspace.item_tags, r, tagspace.tags.ids) for r in range(tagspace.item_tags.shape[0])
    ]


_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def matches(node: Node, user: UserView, items: list[dict[str, float]], now: float) -> bool:
    """The documented semantics of one rule node for one user."""
    match node:
        case Or(children):
            return any(matches(c, user, items, now) for c in children)
        case And(children):
            return all(matches(c, user, items, now) for c in children)
        case Not(child):
            return not matches(child, user, items, now)
        case AttributeIs(tags=tags, negated=negated):
            found = any(user.sources["declared"].get(tag, 0.0) > 0 for tag in tags)
            return found != negated
        case LifecycleIs(stages, negated):
            return (user.stage in stages) != negated
        case RfmCompare(band, op, value):
            return _OPS[op](user.rfm["rfm".index(band)], value)
        case TagCompare(tag, source, op, value):
            if source is None:
                weight = max(
                    user.sources["declared"].get(tag, 0.0),
                    user.sources["behavioural"].get(tag, 0.0),
                )
            else:
                weight = user.sources[source].get(tag, 0.0)
            return _OPS[op](weight, value)
        case HasTag(tag, source):
            names = list(user.sources) if source is None else [source]
            return any(user.sources[s].get(tag, 0.0) > 0 for s in names)
        case EventCount(event_type, days, item_tag, op, value):
            count = 0
            for kind, item, ts in user.events:
                if ts > now or (days is not None and ts < now - days * 86_400.0):
                    continue
                if event_type is not None and kind != event_type:
                    continue
                if item_tag is not None and items[item].get(item_tag, 0.0) <= 0:
                    continue
                count += 1
            return _OPS[op](count, value)
    raise TypeError(node)


def reference_mask(
    node: Node, tagspace: TagSpace, events: EventLog, now: float, rows: Sequence[int] | None = None
) -> np.ndarray:
    rows = range(tagspace.user_declared.shape[0]) if rows is None else rows
    views = user_views(tagspace, events, rows)
    items = item_views(tagspace)
    return np.array([matches(node, v, items, now) for v in views], dtype=bool)
