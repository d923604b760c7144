"""Syntax tree and errors of the segment rule language (parsed by matching.segment_language).

Nodes are frozen dataclasses without positions, so two rules that mean the same thing
compare equal whatever their spelling (`x in ['a']` == `x = 'a'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Comparator: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
COMPARATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")


# ---------------------------------------------------------------- errors


class RuleError(ValueError):
    """A rule that cannot be used; position is the 0-based character offset into the text."""

    def __init__(self, message: str, line: int, column: int, position: int) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.position = position
        super().__init__(f"{message} at line {line}, column {column}")

    def to_dict(self) -> dict[str, object]:
        return {
            "msg": str(self),
            "line": self.line,
            "column": self.column,
            "position": self.position,
        }


class RuleSyntaxError(RuleError):
    """The text does not follow the grammar; `expected` lists what could have come instead."""

    def __init__(
        self, message: str, line: int, column: int, position: int, expected: list[str]
    ) -> None:
        self.expected = expected
        super().__init__(message, line, column, position)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "expected": self.expected}


class RuleSemanticError(RuleError):
    """Grammatical, but names an unknown attribute/function/stage or misuses an argument."""


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class AttributeIs:
    """The user declared any of `tags` (negated: none of them).

    `values` are as the rule spells them, `tags` what the tag space stores for them
    (normalised by matching.tagging.attribute_tags: case, age and income numbers to bands).
    `gender != 'm'` is exactly `not gender = 'm'`: users who declared no gender match it.
    """

    attribute: str
    values: tuple[str | float, ...]
    tags: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class LifecycleIs:
    stages: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class RfmCompare:
    band: Literal["r", "f", "m"]
    op: Comparator
    value: float


@dataclass(frozen=True, slots=True)
class TagCompare:
    """Tag weight `op value`; a user without the tag has weight 0.

    source None is the interest weight: max(declared, behavioural). Predicted confidences
    and system flags are on other scales, so they are only read when named.
    """

    tag: str
    source: str | None
    op: Comparator
    value: float


@dataclass(frozen=True, slots=True)
class HasTag:
    """Weight > 0 in `source`, or in any source when None."""

    tag: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class EventCount:
    """Number of the user's events (of a type, on items with a tag) in the last `days` days.

    The window is `now - days*86400 <= ts <= now`; None days means all events up to now.
    """

    event_type: str | None
    days: float | None
    item_tag: str | None
    op: Comparator
    value: float


Leaf: TypeAlias = AttributeIs | LifecycleIs | RfmCompare | TagCompare | HasTag | EventCount
Node: TypeAlias = Or | And | Not | Leaf


@dataclass(frozen=True, slots=True)
class Rule:
    text: str
    root: Node
