from __future__ import annotations

import re

import numpy as np
import pytest

from matching.data import SECONDS_PER_DAY as DAY
from matching.datasets import Catalogue, EventTable
from matching.synthetic import (
    ACTIVITY_PATTERNS,
    EN_WORDS,
    EVENT_TYPES,
    REGIONS,
    SYNTHETIC_NOW,
    THEMES,
    ZH_WORDS,
    SyntheticTruth,
    generate_catalogue,
    generate_with_truth,
)

Generated = tuple[Catalogue, SyntheticTruth]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def generated() -> Generated:
    return generate_with_truth(n_users=600, n_items=160, n_events=12_000, seed=7)


def test_same_seed_same_catalogue_other_seed_other_catalogue() -> None:
    a = generate_catalogue(n_users=80, n_items=30, n_events=500, seed=3)
    b = generate_catalogue(n_users=80, n_items=30, n_events=500, seed=3)
    c = generate_catalogue(n_users=80, n_items=30, n_events=500, seed=4)
    assert a == b
    assert a.users != c.users and a.events != c.events


def test_sizes_ids_and_referential_integrity(generated: Generated) -> None:
    catalogue, truth = generated
    assert len(catalogue.users) == 600 and len(catalogue.items) == 160
    assert len(catalogue.events) == 12_000
    assert catalogue.users[42].id == "user-000042"
    assert catalogue.items[123].id == "item-000123"
    assert len({u.id for u in catalogue.users}) == 600
    assert len({e.id for e in catalogue.events}) == 12_000
    user_ids = {u.id for u in catalogue.users}
    item_ids = {i.id for i in catalogue.items}
    assert all(e.user_id in user_ids and e.item_id in item_ids for e in catalogue.events)
    assert truth.user_cluster.shape == (600,) and truth.item_cluster.shape == (160,)

    snapshot = catalogue.to_snapshot()
    assert snapshot.n_users == 600 and len(snapshot.events) == 12_000
    assert snapshot.now > snapshot.events.ts.max()


def test_events_are_chronological_typed_and_within_the_last_90_days(generated: Generated) -> None:
    catalogue, _ = generated
    events = catalogue.events
    assert isinstance(events, EventTable)
    assert np.all(np.diff(events.ts) >= 0)
    assert events.ts.min() >= SYNTHETIC_NOW - 90 * DAY and events.ts.max() <= SYNTHETIC_NOW
    counts = np.bincount(events.type_code, minlength=len(EVENT_TYPES))
    assert events.type_names == list(EVENT_TYPES)
    assert np.all(np.diff(counts) < 0)  # view > click > like > share > purchase
    purchases = events.type_code == EVENT_TYPES.index("purchase")
    assert np.all(events.value[purchases] > 0)
    assert np.all(np.isnan(events.value[~purchases]))


def test_events_only_touch_live_items(generated: Generated) -> None:
    catalogue, _ = generated
    items = {i.id: i for i in catalogue.items}
    for event in catalogue.events:
        item = items[event.item_id]
        assert item.published_at is not None and item.published_at <= event.ts
        assert item.expires_at is None or event.ts < item.expires_at
    published = np.array([i.published_at for i in catalogue.items])
    assert np.any(published > SYNTHETIC_NOW)  # a few not yet published
    assert any(i.expires_at is not None and i.expires_at < SYNTHETIC_NOW for i in catalogue.items)
    assert published.min() >= SYNTHETIC_NOW - 180 * DAY - 1


def test_planted_clusters_show_in_the_events(generated: Generated) -> None:
    catalogue, truth = generated
    log = catalogue.to_snapshot().events
    within = truth.user_cluster[log.user] == truth.item_cluster[log.item]
    assert within.mean() >= 0.7
    # Items carry their cluster's topic tag; users of a cluster share its demographic skew.
    for row, item in enumerate(catalogue.items):
        assert f"topic:{truth.cluster_names[truth.item_cluster[row]]}" in item.tags
    female = {
        name: np.mean(
            [
                u.attributes["gender"] == "f"
                for u, c in zip(catalogue.users, truth.user_cluster, strict=True)
                if c == k and "gender" in u.attributes
            ]
        )
        for k, name in enumerate(truth.cluster_names)
    }
    assert female["fitness"] > 0.65 and female["tech"] < 0.4


def test_chinese_and_english_tags_titles_and_attributes(generated: Generated) -> None:
    catalogue, _ = generated
    tags = {t for item in catalogue.items for t in item.tags}
    assert "kw:瑜伽" in tags or "kw:健身" in tags
    assert any(CJK.search(t) for t in tags) and any(re.fullmatch(r"kw:[a-z]+", t) for t in tags)
    titles = [i.title for i in catalogue.items]
    assert any(CJK.search(t) for t in titles) and any(not CJK.search(t) for t in titles)
    assert all(i.text for i in catalogue.items)
    regions = {u.attributes["region"] for u in catalogue.users}
    assert regions <= set(REGIONS) and len(regions) == len(REGIONS)
    assert all(isinstance(u.attributes["income"], int) for u in catalogue.users)


def test_gaps_cold_start_and_lifecycle_variety(generated: Generated) -> None:
    catalogue, truth = generated
    n = len(catalogue.users)
    missing = sum(
        "age" not in u.attributes or "gender" not in u.attributes for u in catalogue.users
    )
    assert 0.05 * n <= missing <= 0.15 * n
    consent = np.mean([u.push_consent for u in catalogue.users])
    assert 0.7 <= consent <= 0.9
    assert any(u.tags for u in catalogue.users) and any(not u.tags for u in catalogue.users)

    log = catalogue.to_snapshot(now=SYNTHETIC_NOW).events
    assert len(truth.cold_users) >= 2 and len(truth.cold_items) >= 2
    assert not np.isin(log.user, truth.cold_users).any()
    assert not np.isin(log.item, truth.cold_items).any()

    # Derive stages with the default thresholds (new 7 d, silent 14 d, churned 60 d).
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, log.user, log.ts)
    np.maximum.at(last, log.user, log.ts)
    active = np.isfinite(first)
    since_first = (SYNTHETIC_NOW - first[active]) / DAY
    since_last = (SYNTHETIC_NOW - last[active]) / DAY
    stage = np.select(
        [since_first <= 7, since_last > 60, since_last > 14], ["new", "churned", "silent"], "active"
    )
    assert set(stage) == set(ACTIVITY_PATTERNS)
    planted = np.asarray(ACTIVITY_PATTERNS)[truth.user_activity[active]]
    assert np.mean(stage == planted) > 0.8


def test_themes_fit_the_generator_and_arguments_are_checked() -> None:
    for theme in THEMES:
        assert len(theme.words_zh) == ZH_WORDS and len(theme.words_en) == EN_WORDS
        assert len(theme.kw_tags) == 5 and len(theme.region_p) == len(REGIONS)
    _, truth = generate_with_truth(n_users=50, n_items=20, n_events=300, clusters=8)
    assert len(truth.cluster_names) == 8 and set(truth.item_cluster) == set(range(8))
    with pytest.raises(ValueError):
        generate_catalogue(clusters=len(THEMES) + 1)
    with pytest.raises(ValueError):
        generate_catalogue(n_items=2, clusters=4)
    empty = generate_catalogue(n_users=5, n_items=4, n_events=0)
    assert len(empty.events) == 0 and empty.to_snapshot(now=1.0).now == 1.0


def test_now_shifts_every_timestamp() -> None:
    now = SYNTHETIC_NOW + 10 * DAY
    base = generate_catalogue(n_users=30, n_items=12, n_events=200, seed=1)
    shifted = generate_catalogue(n_users=30, n_items=12, n_events=200, seed=1, now=now)
    assert isinstance(base.events, EventTable) and isinstance(shifted.events, EventTable)
    assert np.allclose(shifted.events.ts - base.events.ts, 10 * DAY)
