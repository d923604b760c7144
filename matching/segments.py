"""Segments: rules over the tag space, evaluated to a boolean mask over users.

The language (grammar, syntax tree, errors) is in matching.segment_language; this module
reads each leaf of a rule as one whole column over all users (tag weights from CSC copies of
the tag matrices, event counts with np.bincount) and combines them with numpy boolean ops,
so a rule costs a handful of array passes however many users there are.

Semantics of the leaves, in one place:
* `gender = 'f'`: the user has the declared tag that matching.tagging.attribute_tags makes
  of gender 'f' (`gender:f`; values are normalised as at ingest: case, age/income bands).
  `!=` and `not in` are the complement, so users who declared nothing match `gender != 'm'`.
* `tag(t) op x`: interest weight max(declared, behavioural), 0 when absent; `tag(t, source=s)`
  reads one source; `predicted(t)` is `tag(t, source='predicted')`.
* `has(t)`: weight > 0 in any source (or in `source=`).
* `life = 's'`: lifecycle stage; `rfm.r op k`: RFM band (0 = no data).
* `events(type, days=, item_tag=) op n`: events with `now - days*86400 <= ts <= now`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from matching.data import SECONDS_PER_DAY, EventLog
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
    Rule,
    RuleError,
    RuleSemanticError,
    RuleSyntaxError,
    TagCompare,
)
from matching.segment_language import RFM_BANDS, parse_rule
from matching.tagspace import LIFECYCLE_STAGES, TAG_SOURCES, TagSpace

__all__ = [
    "BUILTIN_SEGMENTS",
    "Rule",
    "RuleError",
    "RuleSemanticError",
    "RuleSyntaxError",
    "SegmentContext",
    "describe",
    "evaluate",
    "parse_rule",
    "referenced_tags",
]


# One segment per lifecycle stage, so "silent users" needs no set-up.
BUILTIN_SEGMENTS: dict[str, str] = {
    f"life-{stage}": f"life = '{stage}'" for stage in LIFECYCLE_STAGES
}

_COMPARE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class SegmentContext:
    """The data a rule is evaluated against, with caches shared by every rule evaluated on it.

    Build one per snapshot (or per serving model) and evaluate many segments on it: the CSC
    copies of the tag matrices and the event counts per (type, days, item tag) are reused.
    """

    def __init__(self, tagspace: TagSpace, events: EventLog, now: float) -> None:
        self.tagspace = tagspace
        self.events = events
        self.now = float(now)
        self.n_users = int(tagspace.user_declared.shape[0])
        self._csc: dict[str, sp.csc_matrix] = {}
        self._event_counts: dict[tuple[str | None, float | None, str | None], np.ndarray] = {}

    @classmethod
    def build(cls, tagspace: TagSpace, events: EventLog, now: float) -> SegmentContext:
        return cls(tagspace, events, now)

    def _matrix(self, source: str) -> sp.csc_matrix:
        """Column-major copy of one tag matrix; a column read is then a slice, not a scan."""
        matrix = self._csc.get(source)
        if matrix is None:
            rows = self.tagspace.item_tags if source == "item" else _user_matrix(self, source)
            matrix = sp.csc_matrix(rows)
            matrix.sum_duplicates()
            self._csc[source] = matrix
        return matrix

    def tag_weights(self, tag: str, source: str) -> np.ndarray:
        """float64 weight of `tag` per user (per item for source 'item'); 0 where absent.

        float64 so that a comparison with the rule's literal is exact for the stored float32.
        """
        matrix = self._matrix(source)
        out = np.zeros(matrix.shape[0], dtype=np.float64)
        column = self.tagspace.tags.index(tag)
        if column is None or column >= matrix.shape[1]:
            return out
        start, end = matrix.indptr[column], matrix.indptr[column + 1]
        out[matrix.indices[start:end]] = matrix.data[start:end]
        return out

    def interest_weights(self, tag: str) -> np.ndarray:
        return np.maximum(self.tag_weights(tag, "declared"), self.tag_weights(tag, "behavioural"))

    def has_tag(self, tag: str, source: str | None) -> np.ndarray:
        sources = TAG_SOURCES if source is None else (source,)
        present = np.zeros(self.n_users, dtype=bool)
        for name in sources:
            present |= self.tag_weights(tag, name) > 0
        return present

    def event_counts(
        self, event_type: str | None, days: float | None, item_tag: str | None
    ) -> np.ndarray:
        """Events per user inside the window, cached per (type, days, item tag)."""
        key = (event_type, days, item_tag)
        counts = self._event_counts.get(key)
        if counts is None:
            events = self.events
            mask = events.ts <= self.now
            if days is not None:
                mask &= events.ts >= self.now - days * SECONDS_PER_DAY
            if event_type is not None:
                mask &= events.type_mask(event_type)
            if item_tag is not None:
                item_has_tag = self.tag_weights(item_tag, "item") > 0
                known_item = events.item < len(item_has_tag)
                rows = np.minimum(events.item, max(len(item_has_tag) - 1, 0))
                mask &= known_item & item_has_tag[rows] if len(item_has_tag) else False
            counts = np.bincount(events.user[mask], minlength=self.n_users)[: self.n_users]
            self._event_counts[key] = counts
        return counts


def _user_matrix(context: SegmentContext, source: str) -> sp.csr_matrix:
    tagspace = context.tagspace
    matrices = {
        "declared": tagspace.user_declared,
        "behavioural": tagspace.user_behavioural,
        "predicted": tagspace.user_predicted,
        "system": tagspace.user_system,
    }
    return matrices[source]


def evaluate(rule: Rule | Node, context: SegmentContext) -> np.ndarray:
    """Boolean mask of length n_users: which users the rule selects."""
    node = rule.root if isinstance(rule, Rule) else rule
    match node:
        case Or(children):
            mask = np.zeros(context.n_users, dtype=bool)
            for child in children:
                mask |= evaluate(child, context)
            return mask
        case And(children):
            mask = np.ones(context.n_users, dtype=bool)
            for child in children:
                mask &= evaluate(child, context)
            return mask
        case Not(child):
            return ~evaluate(child, context)
        case AttributeIs(tags=tags, negated=negated):
            mask = np.zeros(context.n_users, dtype=bool)
            for tag in tags:
                mask |= context.tag_weights(tag, "declared") > 0
            return ~mask if negated else mask
        case LifecycleIs(stages, negated):
            codes = [LIFECYCLE_STAGES.index(stage) for stage in stages]
            mask = np.isin(context.tagspace.lifecycle[: context.n_users], codes)
            return ~mask if negated else mask
        case RfmCompare(band, op, value):
            bands = context.tagspace.rfm[: context.n_users, RFM_BANDS[band]]
            return _COMPARE[op](bands.astype(np.float64), value)
        case TagCompare(tag, source, op, value):
            weights = (
                context.interest_weights(tag)
                if source is None
                else context.tag_weights(tag, source)
            )
            return _COMPARE[op](weights, value)
        case HasTag(tag, source):
            return context.has_tag(tag, source)
        case EventCount(event_type, days, item_tag, op, value):
            counts = context.event_counts(event_type, days, item_tag)
            return _COMPARE[op](counts.astype(np.float64), value)
    raise TypeError(f"not a rule node: {node!r}")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _literal(value: str | float) -> str:
    return _quote(value) if isinstance(value, str) else _number(value)


def _membership(subject: str, values: tuple[str | float, ...], negated: bool) -> str:
    if len(values) == 1:
        return f"{subject} {'!=' if negated else '='} {_literal(values[0])}"
    listed = ", ".join(_literal(v) for v in values)
    return f"{subject} {'not in' if negated else 'in'} [{listed}]"


def describe(rule: Rule | Node) -> str:
    """Canonical text of a rule: parse_rule(describe(r)).root == r.root."""
    node = rule.root if isinstance(rule, Rule) else rule
    match node:
        case Or(children):
            return " or ".join(_grouped(c, Or) for c in children)
        case And(children):
            return " and ".join(_grouped(c, Or, And) for c in children)
        case Not(child):
            return "not " + _grouped(child, Or, And)
        case AttributeIs(attribute, values, _, negated):
            return _membership(attribute, values, negated)
        case LifecycleIs(stages, negated):
            return _membership("life", stages, negated)
        case RfmCompare(band, op, value):
            return f"rfm.{band} {op} {_number(value)}"
        case TagCompare(tag, source, op, value):
            if source == "predicted":
                call = f"predicted({_quote(tag)})"
            elif source is None:
                call = f"tag({_quote(tag)})"
            else:
                call = f"tag({_quote(tag)}, source={_quote(source)})"
            return f"{call} {op} {_number(value)}"
        case HasTag(tag, source):
            suffix = "" if source is None else f", source={_quote(source)}"
            return f"has({_quote(tag)}{suffix})"
        case EventCount(event_type, days, item_tag, op, value):
            arguments = [] if event_type is None else [_quote(event_type)]
            if days is not None:
                arguments.append(f"days={_number(days)}")
            if item_tag is not None:
                arguments.append(f"item_tag={_quote(item_tag)}")
            return f"events({', '.join(arguments)}) {op} {_number(value)}"
    raise TypeError(f"not a rule node: {node!r}")


def _grouped(node: Node, *needs_parentheses: type) -> str:
    text = describe(node)
    return f"({text})" if isinstance(node, needs_parentheses) else text


def referenced_tags(rule: Rule | Node) -> set[str]:
    """Tags the rule reads by name (attribute values, tag()/has() arguments, item tags,
    lifecycle stages as `life:<stage>`): a persona report leaves these out of its
    distinguishing tags, since membership already implies them."""
    node = rule.root if isinstance(rule, Rule) else rule
    match node:
        case Or(children) | And(children):
            return set().union(*(referenced_tags(c) for c in children))
        case Not(child):
            return referenced_tags(child)
        case AttributeIs(tags=tags):
            return set(tags)
        case LifecycleIs(stages, _):
            return {f"life:{s}" for s in stages}
        case TagCompare(tag=tag) | HasTag(tag=tag):
            return {tag}
        case EventCount(item_tag=item_tag):
            return set() if item_tag is None else {item_tag}
    return set()
