from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from segment_reference import random_tagspace, user_views

from matching.data import EventLog
from matching.persona import format_report_tables, persona_report
from matching.tagspace import LIFECYCLE_STAGES, TagSpace
from matching.vocabulary import Vocabulary

MEMBERS = np.array([True] * 4 + [False] * 6)
WOMEN = np.array([u in (0, 1, 2, 5) for u in range(10)])


def _tagspace() -> tuple[TagSpace, EventLog]:
    """Ten users, the segment is users 0-3. Figures in the tests are worked out by hand."""
    tags = Vocabulary.from_list(
        ["gender:f", "gender:m", "age:25-34", "age:35-44", "kw:瑜伽", "genre:Comedy"]
        + [f"life:{s}" for s in LIFECYCLE_STAGES]
    )

    def matrix(users_by_tag: dict[str, list[int]]) -> sp.csr_matrix:
        entries = [(u, tags.index(t)) for t, users in users_by_tag.items() for u in users]
        rows, columns = zip(*entries, strict=True) if entries else ((), ())
        data = np.full(len(rows), 0.5, np.float32)
        return sp.csr_matrix((data, (rows, columns)), shape=(10, len(tags)))

    lifecycle = np.array([0, 1, 1, 2, 1, 1, 1, 3, 3, 0], np.int8)
    system = {
        f"life:{s}": np.flatnonzero(lifecycle == i).tolist() for i, s in enumerate(LIFECYCLE_STAGES)
    }
    tagspace = TagSpace(
        tags=tags,
        item_tags=sp.csr_matrix((3, len(tags)), dtype=np.float32),
        user_declared=matrix(
            {
                "gender:f": [0, 1, 2, 5],
                "gender:m": [3, 4, 6],
                "age:25-34": [0, 1],
                "age:35-44": [2, 3, 4, 5],
            }
        ),
        user_behavioural=matrix({"kw:瑜伽": [0, 1, 2, 3], "genre:Comedy": [0, 5, 6, 7, 8]}),
        user_predicted=matrix({"gender:f": [7]}),
        user_system=matrix(system),
        lifecycle=lifecycle,
        rfm=np.zeros((10, 3), np.int8),
    )
    events = EventLog.from_columns(
        user=[0, 0, 0, 1, 2, 4, 5, 6],
        item=[0, 0, 1, 0, 2, 0, 1, 1],
        types=["view"] * 8,
        ts=np.zeros(8),
    )
    return tagspace, events


def _report(**options: object) -> dict:
    tagspace, events = _tagspace()
    return persona_report(MEMBERS, tagspace, events, ["A", "B", "C"], **options)  # type: ignore[arg-type]


def test_size_and_share() -> None:
    report = _report()
    assert (report["size"], report["total_users"], report["share"]) == (4, 10, 0.4)


def test_attribute_distribution_against_all_users() -> None:
    gender = {row["value"]: row for row in _report()["attributes"]["gender"]}
    assert gender["f"]["segment_count"] == 3 and gender["f"]["overall_count"] == 4
    assert gender["f"]["segment_share"] == pytest.approx(0.75)
    assert gender["f"]["overall_share"] == pytest.approx(0.4)
    assert gender["f"]["lift"] == pytest.approx(0.75 / 0.4)
    assert gender["m"]["lift"] == pytest.approx(0.25 / 0.3)
    assert gender[None]["segment_count"] == 0 and gender[None]["overall_count"] == 3
    age = _report()["attributes"]["age"]
    assert [row["value"] for row in age] == ["25-34", "35-44", None]  # band order, then missing
    assert [row["segment_count"] for row in age] == [2, 2, 0]
    assert [row["overall_count"] for row in age] == [2, 4, 4]


def test_top_tags_rank_by_lift_with_counts_and_source() -> None:
    report = _report(min_count=2, exclude_tags={"gender:f"})
    rows = [
        (t["tag"], t["source"], t["segment_count"], t["overall_count"]) for t in report["top_tags"]
    ]
    # lifts: kw:瑜伽 1/0.4 = 2.5, age:25-34 0.5/0.2 = 2.5 (fewer members), age:35-44 1.25,
    # life:active 1.0; gender:f is excluded, tags held by < 2 members are left out.
    assert rows == [
        ("kw:瑜伽", "behavioural", 4, 4),
        ("age:25-34", "declared", 2, 2),
        ("age:35-44", "declared", 2, 4),
        ("life:active", "system", 2, 5),
    ]
    assert [t["lift"] for t in report["top_tags"]] == pytest.approx([2.5, 2.5, 1.25, 1.0])
    assert report["quality"]["distinguishing_tags"] == ["kw:瑜伽", "age:25-34"]
    assert report["excluded_tags"] == ["gender:f"]


def test_weight_lift() -> None:
    report = _report(min_count=1, top_tags=50)
    yoga = next(t for t in report["top_tags_by_weight"] if t["tag"] == "kw:瑜伽")
    assert yoga["segment_mean_weight"] == pytest.approx(0.5)  # 4 members x 0.5 / 4
    assert yoga["overall_mean_weight"] == pytest.approx(0.2)  # 4 users x 0.5 / 10
    assert yoga["weight_lift"] == pytest.approx(2.5)
    lifts = [t["weight_lift"] for t in report["top_tags_by_weight"]]
    assert lifts == sorted(lifts, reverse=True)


def test_min_count_and_limit() -> None:
    tags = _report(min_count=1, top_tags=50)["top_tags"]
    names = {(t["tag"], t["source"]) for t in tags}
    assert ("life:silent", "system") in names  # one member, lift 2.5
    assert ("gender:f", "predicted") not in names  # no member has it
    assert len(_report(min_count=1, top_tags=3)["top_tags"]) == 3


def test_top_items() -> None:
    items = _report()["top_items"]
    assert [(i["item_id"], i["segment_count"], i["overall_count"]) for i in items] == [
        ("A", 2, 3),
        ("B", 1, 3),
        ("C", 1, 1),
    ]
    assert items[0]["segment_events"] == 3
    assert [i["lift"] for i in items] == pytest.approx([0.5 / 0.3, 0.25 / 0.3, 2.5])


def test_lifecycle_mix() -> None:
    mix = _report()["lifecycle"]
    assert [s["stage"] for s in mix] == list(LIFECYCLE_STAGES)
    assert [s["segment_count"] for s in mix] == [1, 2, 1, 0]
    assert [s["overall_count"] for s in mix] == [2, 5, 1, 2]
    assert sum(s["segment_share"] for s in mix) == pytest.approx(1.0)


def test_overlap_figures_and_warnings() -> None:
    everyone = np.ones(10, dtype=bool)
    report = _report(other_segments={"women": WOMEN, "everyone": everyone, "itself": MEMBERS})
    overlaps = {o["segment"]: o for o in report["quality"]["overlaps"]}
    assert overlaps["women"]["intersection"] == 3
    assert overlaps["women"]["jaccard"] == pytest.approx(3 / 5)
    assert overlaps["women"]["share_of_this"] == pytest.approx(3 / 4)
    assert overlaps["women"]["share_of_other"] == pytest.approx(3 / 4)
    assert overlaps["everyone"]["jaccard"] == pytest.approx(0.4)
    assert overlaps["everyone"]["share_of_this"] == 1.0
    assert report["quality"]["max_jaccard"] == 1.0
    warnings = " | ".join(report["quality"]["warnings"])
    assert "too small to act on" in warnings
    assert "nearly the same users as 'itself'" in warnings
    with pytest.raises(ValueError, match="expected 10"):
        _report(other_segments={"bad": np.ones(3, dtype=bool)})


def test_empty_segment() -> None:
    tagspace, events = _tagspace()
    report = persona_report(np.zeros(10, bool), tagspace, events, ["A", "B", "C"])
    assert report["size"] == 0 and report["top_tags"] == [] and report["top_items"] == []
    assert report["quality"]["warnings"] == ["the segment is empty"]
    json.dumps(report)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@pytest.mark.parametrize("seed", [3, 4])
def test_random_segment_distributions_and_counts(seed: int) -> None:
    tagspace, events = random_tagspace(seed, n_users=80)
    members = np.random.default_rng(seed).random(80) < 0.4
    report = persona_report(
        members, tagspace, events, Vocabulary([f"i{k}" for k in range(12)]), min_count=1
    )
    assert {type(leaf) for leaf in _leaves(report)} <= {int, float, str, type(None)}
    json.dumps(report)
    for rows in report["attributes"].values():  # one value per user and namespace here
        assert sum(r["segment_share"] for r in rows) == pytest.approx(1.0)
        assert sum(r["overall_share"] for r in rows) == pytest.approx(1.0)
    views = user_views(tagspace, events, range(80))
    for tag in report["top_tags"]:
        holders = [v.sources[tag["source"]].get(tag["tag"], 0.0) > 0 for v in views]
        assert tag["overall_count"] == sum(holders)
        assert tag["segment_count"] == sum(h and m for h, m in zip(holders, members, strict=True))
    lifts = [t["lift"] for t in report["top_tags"]]
    assert lifts == sorted(lifts, reverse=True)
    for tag in report["top_tags_by_weight"]:
        weights = [v.sources[tag["source"]].get(tag["tag"], 0.0) for v in views]
        member_weight = sum(w for w, m in zip(weights, members, strict=True) if m)
        assert tag["segment_mean_weight"] == pytest.approx(member_weight / members.sum())
        assert tag["overall_mean_weight"] == pytest.approx(sum(weights) / 80)


def test_format_report_tables() -> None:
    text = format_report_tables(_report(min_count=2, other_segments={"women": WOMEN}))
    assert text.startswith("size 4 of 10 users (40.00%)")
    assert "top tags by lift" in text and "overlap with other segments" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("kw:瑜伽"))
    assert line.split() == ["kw:瑜伽", "behavioural", "4", "1.000", "4", "0.400", "2.500"]
    assert "(not declared)" in text
    assert "distinguishing tags: kw:瑜伽, age:25-34" in text
