"""The segment rule language: grammar and parser (lark, LALR) into matching.segment_ast.

    age_band in ['25-34', '35-44'] and region = '上海'
        and tag('kw:瑜伽') >= 0.2 and not life = 'churned'
        and events('purchase', days=30) >= 2

Precedence: comparison > not > and > or; parentheses group. Keywords are case-insensitive,
strings take single or double quotes (backslash escapes the next character).
Evaluation lives in matching.segments; this module only turns text into a checked tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
from lark.exceptions import VisitError
from lark.lexer import PatternStr
from lark.tree import Meta, Tree

from matching.segment_ast import (
    And,
    AttributeIs,
    Comparator,
    EventCount,
    HasTag,
    Leaf,
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
from matching.tagging import attribute_tags
from matching.tagspace import LIFECYCLE_STAGES, TAG_SOURCES

# Attribute name in a rule -> the attribute key whose declared tag it reads.
ATTRIBUTE_KEYS: dict[str, str] = {
    "age": "age_band",
    "age_band": "age_band",
    "gender": "gender",
    "region": "region",
    "income": "income_band",
    "income_band": "income_band",
    "occupation": "occupation",
    "edu": "education",
    "education": "education",
}
LIFECYCLE_NAMES: tuple[str, ...] = ("life", "lifecycle")
RFM_BANDS: dict[str, int] = {"r": 0, "f": 1, "m": 2, "recency": 0, "frequency": 1, "monetary": 2}
FUNCTIONS: tuple[str, ...] = ("tag", "has", "predicted", "events", "attr")

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" or_expr ")"
     | operand comparator literal -> compare
     | operand _IN values -> member
     | operand _NOT _IN values -> not_member
     | call -> bare_call
?operand: call | reference
reference: NAME ("." NAME)?
call: NAME "(" [argument ("," argument)*] ")"
?argument: literal | keyword_argument
keyword_argument: NAME "=" literal
values: "[" [literal ("," literal)*] "]"
?literal: STRING -> string
        | NUMBER -> number
!comparator: "=" | "==" | "!=" | "<" | "<=" | ">" | ">="

_OR: "or"i
_AND: "and"i
_NOT: "not"i
_IN: "in"i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
%import common.WS
%ignore WS
"""

_TERMINAL_LABELS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "$END": "end of rule",
}


# ---------------------------------------------------------------- parse tree -> syntax tree


@dataclass(frozen=True, slots=True)
class _Where:
    line: int
    column: int
    position: int

    @classmethod
    def of(cls, item: Token | Meta) -> _Where:
        if isinstance(item, Token):
            return cls(item.line or 1, item.column or 1, item.start_pos or 0)
        return cls(item.line, item.column, item.start_pos)


@dataclass(frozen=True, slots=True)
class _Literal:
    value: str | float
    where: _Where


@dataclass(frozen=True, slots=True)
class _Reference:
    name: str
    field: str | None
    where: _Where


@dataclass(frozen=True, slots=True)
class _Argument:
    keyword: str | None
    literal: _Literal
    where: _Where


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    arguments: tuple[_Argument, ...]
    where: _Where


def _fail(message: str, where: _Where) -> RuleSemanticError:
    return RuleSemanticError(message, where.line, where.column, where.position)


def _string(literal: _Literal, what: str) -> str:
    if not isinstance(literal.value, str):
        raise _fail(f"{what} must be a string, got {literal.value!r}", literal.where)
    return literal.value


def _number(literal: _Literal, what: str) -> float:
    if not isinstance(literal.value, float):
        raise _fail(f"{what} must be a number, got {literal.value!r}", literal.where)
    return literal.value


def _bind(
    call: _Call, positional: tuple[str, ...], keywords: tuple[str, ...]
) -> dict[str, _Literal]:
    """Match a call's arguments to parameter names, like Python does."""
    bound: dict[str, _Literal] = {}
    for index, argument in enumerate(call.arguments):
        if argument.keyword is None:
            if any(a.keyword is not None for a in call.arguments[:index]):
                raise _fail("positional argument after a keyword argument", argument.where)
            if index >= len(positional):
                raise _fail(
                    f"{call.name}() takes at most {len(positional)} positional argument(s)",
                    argument.where,
                )
            name = positional[index]
        else:
            name = argument.keyword
            if name not in keywords:
                raise _fail(
                    f"{call.name}() has no argument {name!r}; known: {', '.join(keywords)}",
                    argument.where,
                )
        if name in bound:
            raise _fail(f"{call.name}() got argument {name!r} twice", argument.where)
        bound[name] = argument.literal
    return bound


def _source(bound: dict[str, _Literal]) -> str | None:
    if "source" not in bound:
        return None
    source = _string(bound["source"], "source")
    if source not in TAG_SOURCES:
        raise _fail(
            f"unknown tag source {source!r}; known: {', '.join(TAG_SOURCES)}",
            bound["source"].where,
        )
    return source


def _required_tag(call: _Call, bound: dict[str, _Literal]) -> str:
    if "tag" not in bound:
        raise _fail(f"{call.name}() needs a tag, e.g. {call.name}('kw:yoga')", call.where)
    return _string(bound["tag"], "tag")


def _numeric_leaf(call: _Call, op: Comparator, value: float) -> Leaf:
    """A function call that yields a number, compared with `value`."""
    if call.name in ("tag", "predicted"):
        keywords = ("tag", "source") if call.name == "tag" else ("tag",)
        bound = _bind(call, ("tag",), keywords)
        source = "predicted" if call.name == "predicted" else _source(bound)
        return TagCompare(_required_tag(call, bound), source, op, value)
    if call.name == "events":
        bound = _bind(call, ("type",), ("type", "days", "item_tag"))
        event_type = _string(bound["type"], "event type") if "type" in bound else None
        days = _number(bound["days"], "days") if "days" in bound else None
        if days is not None and days < 0:
            raise _fail("days must not be negative", bound["days"].where)
        item_tag = _string(bound["item_tag"], "item_tag") if "item_tag" in bound else None
        return EventCount(event_type, days, item_tag, op, value)
    if call.name == "has":
        raise _fail("has() is a condition on its own; compare tag() instead", call.where)
    raise _fail(
        f"{call.name}() cannot be compared with a number; use tag(), predicted() or events()",
        call.where,
    )


def declared_tag(key: str, value: str | float) -> str | None:
    """The declared tag a user with attribute `key` = `value` carries (None: no tag)."""
    plain = int(value) if isinstance(value, float) and value.is_integer() else value
    tags = list(attribute_tags({key: plain}))
    return tags[0] if tags else None


def _attribute(attribute: str, key: str, values: list[_Literal], negated: bool) -> AttributeIs:
    tags = []
    for literal in values:
        tag = declared_tag(key, literal.value)
        if tag is None:
            raise _fail(f"{literal.value!r} is not a value of {attribute}", literal.where)
        tags.append(tag)
    return AttributeIs(attribute, tuple(v.value for v in values), tuple(tags), negated)


def _set_leaf(operand: _Reference | _Call, values: list[_Literal], negated: bool) -> Leaf:
    """`operand = value` / `operand in [...]` on an attribute or the lifecycle stage."""
    if isinstance(operand, _Call):
        if operand.name != "attr":
            raise _fail(f"{operand.name}() compares with numbers, not strings", operand.where)
        bound = _bind(operand, ("key",), ("key",))
        if "key" not in bound:
            raise _fail("attr() needs a key, e.g. attr('plan')", operand.where)
        key = _string(bound["key"], "key")
        return _attribute(f"attr({key!r})", key, values, negated)
    if operand.name in LIFECYCLE_NAMES and operand.field is None:
        stages = tuple(_string(v, "lifecycle stage") for v in values)
        for stage, literal in zip(stages, values, strict=True):
            if stage not in LIFECYCLE_STAGES:
                raise _fail(
                    f"unknown lifecycle stage {stage!r}; known: {', '.join(LIFECYCLE_STAGES)}",
                    literal.where,
                )
        return LifecycleIs(stages, negated)
    if operand.field is not None or operand.name not in ATTRIBUTE_KEYS:
        known = [*ATTRIBUTE_KEYS, *LIFECYCLE_NAMES, "rfm.r", "rfm.f", "rfm.m", "attr('key')"]
        shown = operand.name + (f".{operand.field}" if operand.field else "")
        raise _fail(f"unknown attribute {shown!r}; known: {', '.join(known)}", operand.where)
    return _attribute(operand.name, ATTRIBUTE_KEYS[operand.name], values, negated)


def _rfm_band(reference: _Reference) -> Literal["r", "f", "m"] | None:
    if reference.name != "rfm":
        return None
    if reference.field not in RFM_BANDS:
        raise _fail("rfm needs a band: rfm.r, rfm.f or rfm.m", reference.where)
    return ("r", "f", "m")[RFM_BANDS[reference.field]]


class _ToSyntaxTree(Transformer):
    def string(self, children: list[Token]) -> _Literal:
        token = children[0]
        body = re.sub(r"\\(.)", r"\1", token.value[1:-1], flags=re.DOTALL)
        return _Literal(body, _Where.of(token))

    def number(self, children: list[Token]) -> _Literal:
        return _Literal(float(children[0].value), _Where.of(children[0]))

    def reference(self, children: list[Token]) -> _Reference:
        field = children[1].value if len(children) > 1 else None
        return _Reference(children[0].value, field, _Where.of(children[0]))

    def keyword_argument(self, children: list[object]) -> _Argument:
        name, literal = children
        assert isinstance(name, Token) and isinstance(literal, _Literal)
        return _Argument(name.value, literal, _Where.of(name))

    def call(self, children: list[object]) -> _Call:
        name, *rest = children
        assert isinstance(name, Token)
        if name.value not in FUNCTIONS:
            known = ", ".join(f"{f}()" for f in FUNCTIONS)
            raise _fail(f"unknown function {name.value!r}; known: {known}", _Where.of(name))
        arguments = tuple(
            item if isinstance(item, _Argument) else _Argument(None, item, item.where)
            for item in rest
            if isinstance(item, _Argument | _Literal)
        )
        return _Call(name.value, arguments, _Where.of(name))

    def comparator(self, children: list[Token]) -> str:
        return "=" if children[0].value == "==" else children[0].value

    def values(self, children: list[_Literal]) -> list[_Literal]:
        return children

    def compare(self, children: list[object]) -> Leaf:
        operand, op, literal = children
        assert isinstance(op, str) and isinstance(literal, _Literal)
        comparator: Comparator = op  # type: ignore[assignment]
        if isinstance(operand, _Call) and operand.name != "attr":
            return _numeric_leaf(operand, comparator, _number(literal, "the compared value"))
        assert isinstance(operand, _Reference | _Call)
        band = _rfm_band(operand) if isinstance(operand, _Reference) else None
        if band is not None:
            return RfmCompare(band, comparator, _number(literal, f"rfm.{band}"))
        if op not in ("=", "!="):
            name = operand.name if isinstance(operand, _Reference) else "attr()"
            raise _fail(f"{name} compares with =, !=, in or not in, not {op}", operand.where)
        return _set_leaf(operand, [literal], negated=op == "!=")

    def member(self, children: list[object], negated: bool = False) -> Leaf:
        operand, values = children
        assert isinstance(operand, _Reference | _Call) and isinstance(values, list)
        if isinstance(operand, _Reference) and operand.name == "rfm":
            raise _fail("rfm bands compare with <, <=, >, >=, = or !=", operand.where)
        return _set_leaf(operand, values, negated)

    def not_member(self, children: list[object]) -> Leaf:
        return self.member(children, negated=True)

    def bare_call(self, children: list[_Call]) -> Leaf:
        call = children[0]
        if call.name != "has":
            raise _fail(f"{call.name}() needs a comparison, e.g. {call.name}(...) > 0", call.where)
        bound = _bind(call, ("tag",), ("tag", "source"))
        return HasTag(_required_tag(call, bound), _source(bound))

    def negation(self, children: list[Node]) -> Node:
        return Not(children[0])

    def and_expr(self, children: list[Node]) -> Node:
        return And(tuple(children))

    def or_expr(self, children: list[Node]) -> Node:
        return Or(tuple(children))


# The basic lexer keeps keywords reserved: with the contextual one `and and` would lex as a name.
_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)
_TERMINAL_PATTERNS = {
    t.name: t.pattern.value for t in _PARSER.terminals if isinstance(t.pattern, PatternStr)
}


def _label(terminal: str) -> str:
    if terminal in _TERMINAL_LABELS:
        return _TERMINAL_LABELS[terminal]
    pattern = _TERMINAL_PATTERNS.get(terminal)
    return f"'{pattern}'" if pattern is not None else terminal.lower()


def _syntax_error(
    text: str, error: UnexpectedToken | UnexpectedCharacters | UnexpectedEOF
) -> RuleSyntaxError:
    terminals: set[str]
    found, position = "end of rule", len(text)
    if isinstance(error, UnexpectedToken):
        terminals = set(error.accepts or error.expected)
        if error.token.type != "$END":
            found, position = repr(error.token.value), error.token.start_pos or 0
    elif isinstance(error, UnexpectedCharacters):
        # The lexer's allowed set is looser than the parser's; ask the parser what it accepts.
        parser_state = getattr(error, "interactive_parser", None)
        terminals = set(parser_state.accepts() if parser_state else error.allowed or ())
        position = error.pos_in_stream or 0
        found = repr(text[position])
    else:
        terminals = set(error.expected)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    expected = sorted({_label(t) for t in terminals})
    wanted = expected[0] if len(expected) == 1 else f"one of {', '.join(expected)}"
    message = f"unexpected {found}: expected {wanted}"
    return RuleSyntaxError(message, line, column, position, expected)


# Deeper trees than any sensible rule; far below Python's recursion limit, which the tree
# transform and the evaluation (both recursive) would otherwise hit first.
MAX_RULE_DEPTH = 64


def _first_token(node: Tree[Token]) -> Token | None:
    while node.children:
        child = node.children[0]
        if isinstance(child, Token):
            return child
        if not isinstance(child, Tree):
            return None
        node = child
    return None


def _check_depth(tree: Tree[Token]) -> None:
    """Walk the parse tree without recursion; refuse one nested deeper than MAX_RULE_DEPTH."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_RULE_DEPTH:
            token = _first_token(node)
            where = _Where.of(token) if token is not None else _Where(1, 1, 0)
            raise _fail(
                f"the rule nests deeper than {MAX_RULE_DEPTH} levels of not/and/or/parentheses",
                where,
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def parse_rule(text: str) -> Rule:
    """Parse and check a rule; raises RuleSyntaxError / RuleSemanticError with the position."""
    try:
        tree = _PARSER.parse(text)
    except (UnexpectedToken, UnexpectedCharacters, UnexpectedEOF) as error:
        raise _syntax_error(text, error) from None
    _check_depth(tree)
    try:
        root = _ToSyntaxTree().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, RuleError):
            raise error.orig_exc from None
        raise
    return Rule(text, root)
