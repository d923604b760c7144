"""Values a store may hold that the science must survive: huge numbers, deep rules."""

from __future__ import annotations

import pytest

from matching.segment_ast import RuleSemanticError
from matching.segment_language import MAX_RULE_DEPTH, parse_rule
from matching.tagging import attribute_tags


def test_numbers_beyond_float_range_give_no_band_instead_of_overflow() -> None:
    tags = attribute_tags(
        {"age": 10**400, "income": -(10**400), "zip": 10**400, "age_band": "9" * 400}
    )
    assert not any(tag.startswith("age:") and tag != f"age:{'9' * 400}" for tag in tags)
    assert attribute_tags({"age": 31}) == {"age:25-34": 1.0}


@pytest.mark.parametrize(
    "rule",
    [
        "not " * 500 + "life = 'silent'",
        "(life = 'new' and " * 200 + "life = 'silent'" + ")" * 200,
    ],
)
def test_rules_nested_past_the_limit_are_a_rule_error(rule: str) -> None:
    with pytest.raises(RuleSemanticError, match="nests deeper"):
        parse_rule(rule)


def test_rules_within_the_limit_parse() -> None:
    parse_rule("not " * (MAX_RULE_DEPTH // 2) + "life = 'silent'")
