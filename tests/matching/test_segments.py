from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segment_reference import (
    ATTRIBUTE_VALUES,
    DAY,
    EVENT_TYPES,
    INTEREST_TAGS,
    NOW,
    WEIGHTS,
    random_tagspace,
    reference_mask,
)

from matching.data import EventLog
from matching.segment_ast import (
    COMPARATORS,
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
from matching.segment_language import ATTRIBUTE_KEYS, declared_tag
from matching.segments import (
    BUILTIN_SEGMENTS,
    RuleError,
    RuleSemanticError,
    RuleSyntaxError,
    SegmentContext,
    describe,
    evaluate,
    parse_rule,
    referenced_tags,
)
from matching.tagspace import LIFECYCLE_STAGES, TAG_SOURCES, TagSpace
from matching.vocabulary import Vocabulary

# ------------------------------------------------------------------ parsing


def _attr(name: str, *values: str | float, negated: bool = False) -> AttributeIs:
    tags = tuple(declared_tag(ATTRIBUTE_KEYS[name], v) or "" for v in values)
    return AttributeIs(name, values, tags, negated)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age_band in ['25-34','35-44']", _attr("age_band", "25-34", "35-44")),
        ("region = '上海'", _attr("region", "上海")),
        ('region == "上海"', _attr("region", "上海")),
        ("gender != 'm'", _attr("gender", "m", negated=True)),
        ("education not in ['master']", _attr("education", "master", negated=True)),
        ("income_band = '20k+'", _attr("income_band", "20k+")),
        ("attr('plan') = 'gold'", AttributeIs("attr('plan')", ("gold",), ("attr:plan=gold",))),
        ("tag('kw:瑜伽') >= 0.2", TagCompare("kw:瑜伽", None, ">=", 0.2)),
        ("tag('kw:瑜伽', source='behavioural') > 0", TagCompare("kw:瑜伽", "behavioural", ">", 0)),
        ("predicted('gender:f') >= 0.8", TagCompare("gender:f", "predicted", ">=", 0.8)),
        ("has('genre:Comedy')", HasTag("genre:Comedy")),
        ("has(tag='x', source='system')", HasTag("x", "system")),
        ("life = 'silent'", LifecycleIs(("silent",))),
        ("lifecycle in ['silent', 'churned']", LifecycleIs(("silent", "churned"))),
        ("rfm.r >= 4", RfmCompare("r", ">=", 4)),
        ("rfm.monetary < 2", RfmCompare("m", "<", 2)),
        ("events('purchase', days=30) >= 2", EventCount("purchase", 30, None, ">=", 2)),
        ("events(days=7) = 0", EventCount(None, 7, None, "=", 0)),
        (
            "events(type='view', item_tag='kw:瑜伽', days=30) >= 1",
            EventCount("view", 30, "kw:瑜伽", ">=", 1),
        ),
        ("events() > 1e1", EventCount(None, None, None, ">", 10)),
        ("region = 'it\\'s'", _attr("region", "it's")),
        ('region = "say \\"hi\\""', _attr("region", 'say "hi"')),
    ],
)
def test_valid_leaves(text: str, expected: Node) -> None:
    rule = parse_rule(text)
    assert rule.root == expected
    assert rule.text == text
    assert parse_rule(describe(rule)).root == expected


def test_attribute_values_are_normalised_like_declared_tags() -> None:
    assert parse_rule("gender = 'F'").root == AttributeIs("gender", ("F",), ("gender:f",))
    assert parse_rule("age = 30").root == AttributeIs("age", (30.0,), ("age:25-34",))
    root = parse_rule("occupation in ['Engineer']").root
    assert root == AttributeIs("occupation", ("Engineer",), ("occupation:engineer",))
    assert referenced_tags(parse_rule("edu = 'Master'")) == {"edu:master"}


def test_precedence_and_grouping() -> None:
    a, b, c = HasTag("a"), HasTag("b"), HasTag("c")
    assert parse_rule("has('a') or has('b') and has('c')").root == Or((a, And((b, c))))
    assert parse_rule("has('a') and has('b') or has('c')").root == Or((And((a, b)), c))
    assert parse_rule("not has('a') and has('b')").root == And((Not(a), b))
    assert parse_rule("not (has('a') and has('b'))").root == Not(And((a, b)))
    assert parse_rule("(has('a') or has('b')) and has('c')").root == And((Or((a, b)), c))
    assert parse_rule("NOT has('a') OR has('b') AnD has('c')").root == Or((Not(a), And((b, c))))
    assert parse_rule("not life = 'new'").root == Not(LifecycleIs(("new",)))
    assert parse_rule("\n  has('a')\n\tand has('b')  ").root == And((a, b))


@pytest.mark.parametrize(
    ("text", "line", "column", "expected_contains"),
    [
        ("age_band = ", 1, 12, ["a string", "a number"]),
        ("gender = 'f' and", 1, 17, ["'('", "'not'", "a name"]),
        ("gender = 'f' and and life = 'new'", 1, 18, ["'('", "'not'", "a name"]),
        ("(has('x')", 1, 10, ["')'"]),
        ("has('x') )", 1, 10, ["end of rule"]),
        ("gender = 'f' @", 1, 14, ["'and'", "'or'", "end of rule"]),
        ("age_band\n  in ['a' 'b']", 2, 11, ["','", "']'"]),
        ("gender 'f'", 1, 8, ["'='", "'in'", "'not'"]),
        ("region = '上海", 1, 10, []),
    ],
)
def test_syntax_errors_have_positions(
    text: str, line: int, column: int, expected_contains: list[str]
) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert set(expected_contains) <= set(error.expected)
    assert f"at line {line}, column {column}" in str(error)
    assert error.to_dict()["expected"] == error.expected


def test_syntax_error_message_names_what_was_expected() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("gender = 'f' and")
    assert str(caught.value) == (
        "unexpected end of rule: expected one of '(', 'not', a name at line 1, column 17"
    )
    assert caught.value.position == 16


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("colour = 'red'", 1, "unknown attribute 'colour'; known: age, age_band"),
        ("life = 'zombie'", 8, "unknown lifecycle stage 'zombie'"),
        ("life in ['new', 'zombie']", 17, "unknown lifecycle stage 'zombie'"),
        ("score('x') > 1", 1, "unknown function 'score'"),
        ("tag('x') >= 'high'", 13, "must be a number"),
        ("tag(1) > 0", 5, "tag must be a string"),
        ("tag('x', weight=2) > 0", 10, "tag() has no argument 'weight'"),
        ("tag('x', source='guess') > 0", 17, "unknown tag source 'guess'"),
        ("events('a', 'b') > 1", 13, "at most 1 positional"),
        ("events(days=1, 'view') > 1", 16, "positional argument after a keyword"),
        ("tag('x', tag='y') > 1", 10, "got argument 'tag' twice"),
        ("events(days='7') > 1", 13, "days must be a number"),
        ("events(days=-1) > 1", 13, "must not be negative"),
        ("tag('x')", 1, "tag() needs a comparison"),
        ("has('x') > 0", 1, "has() is a condition on its own"),
        ("age_band > '25-34'", 1, "age_band compares with =, !=, in or not in"),
        ("rfm.x > 1", 1, "rfm needs a band"),
        ("rfm.r in [1, 2]", 1, "rfm bands compare with"),
        ("age = 200", 7, "is not a value of age"),
        ("has(source='declared')", 1, "has() needs a tag"),
    ],
)
def test_semantic_errors_have_positions(text: str, column: int, message: str) -> None:
    with pytest.raises(RuleSemanticError) as caught:
        parse_rule(text)
    assert caught.value.line == 1
    assert caught.value.column == column
    assert message in caught.value.message
    assert isinstance(caught.value, RuleError)


def test_builtin_segments_cover_every_lifecycle_stage() -> None:
    assert set(BUILTIN_SEGMENTS) == {f"life-{s}" for s in LIFECYCLE_STAGES}
    for stage in LIFECYCLE_STAGES:
        assert parse_rule(BUILTIN_SEGMENTS[f"life-{stage}"]).root == LifecycleIs((stage,))


def test_referenced_tags() -> None:
    rule = parse_rule(
        "age in ['25-34'] and (tag('kw:a') > 0 or not has('kw:b')) and life = 'silent'"
        " and events('view', item_tag='kw:c') > 0 and rfm.r > 1"
    )
    assert referenced_tags(rule) == {"age:25-34", "kw:a", "kw:b", "life:silent", "kw:c"}


# ------------------------------------------------------------------ evaluation


def _hand_tagspace() -> tuple[TagSpace, EventLog]:
    """Three users: 0 declared f/上海 with yoga 0.2; 1 behavioural yoga 0.5; 2 nothing."""
    tags = Vocabulary.from_list(["gender:f", "region:上海", "kw:瑜伽", "gender:m"])

    def matrix(entries: list[tuple[int, int, float]], rows: int = 3) -> sp.csr_matrix:
        r, c, w = zip(*entries, strict=True) if entries else ((), (), ())
        return sp.csr_matrix((np.array(w, np.float32), (r, c)), shape=(rows, len(tags)))

    tagspace = TagSpace(
        tags=tags,
        item_tags=matrix([(0, 2, 1.0)], rows=2),
        user_declared=matrix([(0, 0, 1.0), (0, 1, 1.0), (0, 2, 0.2)]),
        user_behavioural=matrix([(1, 2, 0.5)]),
        user_predicted=matrix([(2, 0, 0.8)]),
        user_system=matrix([]),
        lifecycle=np.array([0, 1, 2], np.int8),
        rfm=np.array([[5, 1, 0], [3, 2, 1], [0, 0, 0]], np.int8),
    )
    events = EventLog.from_columns(
        user=[0, 0, 1, 1, 1, 2],
        item=[0, 1, 0, 0, 1, 1],
        types=["purchase", "view", "view", "view", "purchase", "view"],
        ts=[NOW - 30 * DAY, NOW, NOW - 30 * DAY - 1, NOW - DAY, NOW + 1, NOW - 100 * DAY],
    )
    return tagspace, events


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("gender = 'f'", [True, False, False]),
        ("gender != 'm'", [True, True, True]),
        ("gender != 'f'", [False, True, True]),
        ("region = '上海' and gender = 'f'", [True, False, False]),
        ("tag('kw:瑜伽') >= 0.2", [True, True, False]),
        ("tag('kw:瑜伽') > 0.2", [True, True, False]),  # float32(0.2) > 0.2 exactly
        ("tag('kw:瑜伽', source='declared') > 0.3", [False, False, False]),
        ("tag('kw:瑜伽') < 0.3", [True, False, True]),  # absent counts as weight 0
        ("tag('unknown:tag') = 0", [True, True, True]),
        ("predicted('gender:f') >= 0.8", [False, False, True]),
        ("has('gender:f')", [True, False, True]),
        ("has('gender:f', source='declared')", [True, False, False]),
        ("life = 'new' or life = 'silent'", [True, False, True]),
        ("life not in ['new']", [False, True, True]),
        ("rfm.r >= 3", [True, True, False]),
        ("rfm.m = 0", [True, False, True]),
        # window is [now - days, now]: the event exactly 30 days old counts, one second older
        # does not, and the event after `now` never does.
        ("events(days=30) = 2", [True, False, False]),
        ("events(days=30) = 1", [False, True, False]),
        ("events('purchase', days=30) >= 1", [True, False, False]),
        ("events('view') = 3", [False, False, False]),
        ("events('view') = 2", [False, True, False]),
        ("events() = 1", [False, False, True]),
        ("events(days=0) = 1", [True, False, False]),
        ("events('view', item_tag='kw:瑜伽', days=30) >= 1", [False, True, False]),
        ("events('like') = 0", [True, True, True]),
        ("not (gender = 'f' or rfm.f >= 2)", [False, False, True]),
    ],
)
def test_evaluate_hand_example(text: str, mask: list[bool]) -> None:
    tagspace, events = _hand_tagspace()
    context = SegmentContext.build(tagspace, events, NOW)
    result = evaluate(parse_rule(text), context)
    assert result.dtype == bool
    assert result.tolist() == mask
    assert reference_mask(parse_rule(text).root, tagspace, events, NOW).tolist() == mask


HANDWRITTEN_RULES = [
    "age_band in ['25-34','35-44'] and region = '上海' and tag('kw:瑜伽') >= 0.2",
    "gender = 'f' and (life = 'silent' or life = 'churned') and events('purchase', days=30) >= 1",
    "not has('genre:Comedy') or predicted('gender:f') >= 0.8",
    "rfm.r >= 4 and rfm.f < 3 or events(days=7) = 0",
    "attr('plan') = 'gold' and events('view', item_tag='kw:瑜伽', days=30) >= 1",
    "tag('cat:sports', source='behavioural') > 0.25 and income not in ['<5k']",
]


@pytest.mark.parametrize("text", HANDWRITTEN_RULES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_matches_reference(text: str, seed: int) -> None:
    tagspace, events = random_tagspace(seed)
    context = SegmentContext.build(tagspace, events, NOW)
    rule = parse_rule(text)
    expected = reference_mask(rule.root, tagspace, events, NOW)
    assert evaluate(rule, context).tolist() == expected.tolist()
    assert evaluate(rule, context).tolist() == expected.tolist()  # cached columns agree


# ------------------------------------------------------------------ property-based

_TAGS = [*INTEREST_TAGS, "gender:f", "gender:m", "age:25-34", "life:silent", "no:such-tag"]
_NUMBERS = st.sampled_from([0.0, *WEIGHTS, 0.3, 0.6, 0.8, 0.95, 1.5])
_OP = st.sampled_from(COMPARATORS)


def _attribute() -> st.SearchStrategy[Node]:
    namespaces = {"age_band": "age", "gender": "gender", "region": "region", "edu": "edu"}

    def build(name: str) -> st.SearchStrategy[Node]:
        choices = st.sampled_from([*ATTRIBUTE_VALUES[namespaces[name]], "other"])
        values = st.lists(choices, max_size=3)
        return st.builds(lambda v, n: _attr(name, *v, negated=n), values, st.booleans())

    plan = st.builds(
        lambda v, n: AttributeIs("attr('plan')", (v,), (f"attr:plan={v}",), n),
        st.sampled_from(["gold", "free"]),
        st.booleans(),
    )
    return st.one_of(*(build(n) for n in namespaces), plan)


_LEAVES: st.SearchStrategy[Node] = st.one_of(
    _attribute(),
    st.builds(
        lambda s, n: LifecycleIs(tuple(s), n),
        st.lists(st.sampled_from(LIFECYCLE_STAGES), min_size=1, max_size=3),
        st.booleans(),
    ),
    st.builds(RfmCompare, st.sampled_from("rfm"), _OP, st.integers(-1, 6).map(float)),
    st.builds(
        TagCompare,
        st.sampled_from(_TAGS),
        st.sampled_from([None, *TAG_SOURCES]),
        _OP,
        _NUMBERS,
    ),
    st.builds(HasTag, st.sampled_from(_TAGS), st.sampled_from([None, *TAG_SOURCES])),
    st.builds(
        EventCount,
        st.sampled_from([None, *EVENT_TYPES, "like"]),
        st.sampled_from([None, 0.0, 1.0, 7.0, 30.0]),
        st.sampled_from([None, *INTEREST_TAGS]),
        _OP,
        st.integers(0, 4).map(float),
    ),
)

RULES: st.SearchStrategy[Node] = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
        st.lists(children, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
        children.map(Not),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=RULES, seed=st.integers(0, 5))
def test_random_rules_match_reference(node: Node, seed: int) -> None:
    tagspace, events = random_tagspace(seed, n_users=40, n_events=200)
    rule = parse_rule(describe(node))
    assert rule.root == node  # the printed rule reads back as the same tree
    context = SegmentContext.build(tagspace, events, NOW)
    expected = reference_mask(node, tagspace, events, NOW)
    assert evaluate(rule, context).tolist() == expected.tolist()
