"""Synthetic catalogues with planted structure, for tests, the demo and benchmarks.

Users and items belong to taste clusters (yoga/fitness, food, tech, ...). Each cluster has its
own Chinese+English tag vocabulary, title words and user demographics, and users interact
mostly with items of their own cluster, so a model that works has something real to find and
a test can check it found it (SyntheticTruth). Everything is drawn with numpy from one seed;
only the per-record objects are built in Python, events stay columnar (EventTable).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from matching.data import SECONDS_PER_DAY, Attributes, ItemRecord, UserRecord
from matching.datasets import Catalogue, EventTable
from matching.synthetic_themes import (
    ACTIVITY_P,
    ACTIVITY_PATTERNS,
    EDUCATION,
    EN_WORDS,
    EVENT_TYPE_P,
    EVENT_TYPES,
    FILLER_EN,
    FILLER_ZH,
    IN_CLUSTER_SHARE,
    REGIONS,
    SYNTHETIC_NOW,
    THEMES,
    TITLES_EN,
    TITLES_ZH,
    ZH_WORDS,
    Theme,
)

# Fixed default clock so that a seed alone determines the catalogue.


@dataclass(frozen=True, slots=True)
class SyntheticTruth:
    """What was planted: the taste cluster of every user and item (rows of the catalogue)."""

    user_cluster: np.ndarray  # int16 per user, index into cluster_names
    item_cluster: np.ndarray  # int16 per item
    cluster_names: list[str]
    user_activity: np.ndarray  # int8 per user, index into ACTIVITY_PATTERNS
    cold_users: np.ndarray  # rows of users given no events
    cold_items: np.ndarray  # rows of items given no events


def generate_catalogue(
    n_users: int = 1000,
    n_items: int = 400,
    n_events: int = 20000,
    seed: int = 0,
    now: float | None = None,
    clusters: int = 4,
) -> Catalogue:
    return generate_with_truth(n_users, n_items, n_events, seed, now, clusters)[0]


def generate_with_truth(
    n_users: int = 1000,
    n_items: int = 400,
    n_events: int = 20000,
    seed: int = 0,
    now: float | None = None,
    clusters: int = 4,
) -> tuple[Catalogue, SyntheticTruth]:
    """A deterministic catalogue (same arguments, same output) and the structure planted in it."""
    if not 1 <= clusters <= len(THEMES):
        raise ValueError(f"clusters must be between 1 and {len(THEMES)}")
    if n_users < 1 or n_items < clusters or n_events < 0:
        raise ValueError("need at least one user, one item per cluster and n_events >= 0")
    now = SYNTHETIC_NOW if now is None else float(now)
    themes = THEMES[:clusters]
    rng = np.random.default_rng(seed)

    share = np.linspace(1.3, 0.7, clusters)
    item_cluster = np.concatenate(
        [np.arange(clusters), rng.choice(clusters, n_items - clusters, p=share / share.sum())]
    ).astype(np.int16)
    user_cluster = rng.choice(clusters, n_users, p=share / share.sum()).astype(np.int16)

    published, expires = _item_times(rng, item_cluster, now)
    with _collector_paused():
        items = _items(rng, themes, item_cluster, published, expires)
        users = _users(rng, themes, user_cluster)
    cold_users = rng.choice(n_users, min(n_users - 1, max(2, n_users // 100)), replace=False)
    cold_items = rng.choice(
        np.flatnonzero(
            published > now - 150 * SECONDS_PER_DAY
        ),  # keep each cluster's anchor item warm
        min(int((published > now - 150 * SECONDS_PER_DAY).sum()), max(2, n_items // 50)),
        replace=False,
    )
    activity = rng.choice(len(ACTIVITY_PATTERNS), n_users, p=ACTIVITY_P).astype(np.int8)
    truth = SyntheticTruth(
        user_cluster=user_cluster,
        item_cluster=item_cluster,
        cluster_names=[t.name for t in themes],
        user_activity=activity,
        cold_users=np.sort(cold_users),
        cold_items=np.sort(cold_items),
    )
    events = _events(rng, themes, users, items, truth, published, expires, n_events, now)
    return Catalogue(users=users, items=items, events=events), truth


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building records in bulk.

    A million new dicts trigger collection passes that scan every earlier one, yet none of
    these objects form cycles; pausing saves about 40% of the user-building time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _item_times(
    rng: np.random.Generator, item_cluster: np.ndarray, now: float
) -> tuple[np.ndarray, np.ndarray]:
    n = len(item_cluster)
    published = now - rng.uniform(0, 180, n) * SECONDS_PER_DAY
    expires = np.full(n, np.nan)
    kind = rng.random(n)
    future = kind < 0.02
    published[future] = now + rng.uniform(1, 14, future.sum()) * SECONDS_PER_DAY
    expired = (kind >= 0.02) & (kind < 0.05)
    published[expired] = now - rng.uniform(100, 180, expired.sum()) * SECONDS_PER_DAY
    expires[expired] = now - rng.uniform(10, 60, expired.sum()) * SECONDS_PER_DAY
    # The first item of each cluster is old and open-ended, so every event time has a valid item.
    clusters = int(item_cluster.max()) + 1
    published[:clusters] = now - 180 * SECONDS_PER_DAY
    expires[:clusters] = np.nan
    return published, expires


def _sample_rows(rng: np.random.Generator, n: int, pool: int, k: int) -> np.ndarray:
    """n rows of k distinct indices below pool (sampling without replacement, vectorised)."""
    return rng.random((n, pool)).argsort(axis=1)[:, :k]


def _items(
    rng: np.random.Generator,
    themes: tuple[Theme, ...],
    item_cluster: np.ndarray,
    published: np.ndarray,
    expires: np.ndarray,
) -> list[ItemRecord]:
    n = len(item_cluster)
    chinese = (rng.random(n) < 0.6).tolist()
    # Every theme has ZH_WORDS Chinese and EN_WORDS English title words and 5 keyword tags.
    words_zh = _sample_rows(rng, n, ZH_WORDS, 4).tolist()
    words_en = _sample_rows(rng, n, EN_WORDS, 4).tolist()
    fillers = _sample_rows(rng, n, len(FILLER_EN), 2).tolist()
    template = rng.integers(0, 12, n).tolist()  # taken modulo the number of templates
    n_kw = rng.integers(2, 4, n).tolist()
    kw_order = _sample_rows(rng, n, 5, 3).tolist()
    kw_weight = np.round(rng.uniform(0.5, 1.0, (n, 3)), 3).tolist()
    noisy = (rng.random(n) < 0.1).tolist()
    noise_tag = rng.integers(0, 5 * len(themes), n).tolist()
    clusters = item_cluster.tolist()
    width = max(6, len(str(n - 1)))
    items = []
    for row in range(n):
        theme = themes[clusters[row]]
        zh = chinese[row]
        vocab = theme.words_zh if zh else theme.words_en
        a, b, c, d = (vocab[i] for i in (words_zh if zh else words_en)[row])
        filler = FILLER_ZH if zh else FILLER_EN
        f1, f2 = (filler[i] for i in fillers[row])
        if zh:
            title = TITLES_ZH[template[row] % len(TITLES_ZH)].format(a=a, b=b)
            text = f"{a}{f1}：从「{c}」到「{d}」，每天{b}{f2}。"
        else:
            title = TITLES_EN[template[row] % len(TITLES_EN)].format(a=a, b=b)
            text = f"{a.capitalize()} {f1}: from {c} to {d}, a daily {b} {f2}."
        tags = {f"cat:{theme.category}": 1.0, f"topic:{theme.name}": 1.0}
        for k in range(n_kw[row]):
            tags[f"kw:{theme.kw_tags[kw_order[row][k]]}"] = kw_weight[row][k]
        if noisy[row]:
            other = themes[noise_tag[row] // 5]
            tags.setdefault(f"kw:{other.kw_tags[noise_tag[row] % 5]}", 0.3)
        items.append(
            ItemRecord(
                id=f"item-{row:0{width}d}",
                title=title,
                text=text,
                tags=tags,
                category=theme.category,
                published_at=float(published[row]),
                expires_at=None if np.isnan(expires[row]) else float(expires[row]),
            )
        )
    return items


def _users(
    rng: np.random.Generator, themes: tuple[Theme, ...], user_cluster: np.ndarray
) -> list[UserRecord]:
    n = len(user_cluster)
    gender = np.empty(n, dtype=object)
    age = np.empty(n, dtype=np.int64)
    region = np.empty(n, dtype=np.int64)
    income = np.empty(n, dtype=np.int64)
    occupation = np.empty(n, dtype=object)
    education = np.empty(n, dtype=np.int64)
    for c, theme in enumerate(themes):
        rows = np.flatnonzero(user_cluster == c)
        m = len(rows)
        gender[rows] = np.where(rng.random(m) < theme.female_share, "f", "m")
        age[rows] = np.clip(np.rint(rng.normal(theme.age_mean, theme.age_sd, m)), 16, 75)
        region[rows] = rng.choice(len(REGIONS), m, p=_normalised(theme.region_p))
        # Income grows with age up to mid-career; lognormal spread around the cluster median.
        career = np.clip(age[rows] - 22, 0, 20) / 20
        mu = np.log(theme.income_median) + 0.4 * (career - 0.5)
        income[rows] = np.rint(rng.lognormal(mu, 0.4) / 100) * 100
        occupation[rows] = np.asarray(theme.occupations, dtype=object)[
            rng.choice(len(theme.occupations), m, p=_zipf(len(theme.occupations), 0.7))
        ]
        education[rows] = rng.choice(len(EDUCATION), m, p=_normalised(theme.education_p))
    # ~10% of users did not declare age and/or gender: the prediction task's ground truth.
    missing = rng.random(n) < 0.10
    which = rng.integers(0, 3, n)  # 0 age, 1 gender, 2 both
    no_age = (missing & (which != 1)).tolist()
    no_gender = (missing & (which != 0)).tolist()
    consent = (rng.random(n) < 0.8).tolist()
    # A fifth of the users declare one or two interest tags of their cluster.
    declares = (rng.random(n) < 0.2).tolist()
    kw_picks = rng.integers(0, 5, (n, 2)).tolist()
    width = max(6, len(str(n - 1)))
    columns = zip(
        user_cluster.tolist(),
        age.tolist(),
        gender.tolist(),
        [REGIONS[r] for r in region.tolist()],
        income.tolist(),
        occupation.tolist(),
        [EDUCATION[e] for e in education.tolist()],
        strict=True,
    )
    users = []
    for row, (c, a, g, r, inc, occ, edu) in enumerate(columns):
        attributes: Attributes = {"age": a, "gender": g}
        if no_age[row]:
            del attributes["age"]
        if no_gender[row]:
            del attributes["gender"]
        attributes.update(region=r, income=inc, occupation=occ, education=edu)
        tags: dict[str, float] = {}
        if declares[row]:
            kw = themes[c].kw_tags
            tags = {f"kw:{kw[k]}": 1.0 for k in kw_picks[row]}
        users.append(
            UserRecord(
                id=f"user-{row:0{width}d}",
                attributes=attributes,
                tags=tags,
                push_consent=consent[row],
            )
        )
    return users


def _normalised(weights: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return p / p.sum()


def _weighted_sample(
    rng: np.random.Generator, values: np.ndarray, weights: np.ndarray, size: int
) -> np.ndarray:
    """size draws from values with replacement, by weight.

    Counts per value, repeated and shuffled: the same distribution as rng.choice(p=...),
    without a binary search per draw, which dominates at tens of millions of draws.
    """
    counts = rng.multinomial(size, weights / weights.sum())
    drawn = np.repeat(values, counts)
    rng.shuffle(drawn)
    return drawn


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _activity_windows(
    rng: np.random.Generator, activity: np.ndarray, now: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user [start, end] of activity, in epoch seconds, following the planted pattern."""
    n = len(activity)
    end_ago = np.select(
        [activity == 0, activity == 1, activity == 2],
        [np.zeros(n), rng.uniform(0, 5, n), rng.uniform(16, 55, n)],
        rng.uniform(62, 85, n),
    )
    start_ago = np.select(
        [activity == 0, activity == 1],
        [rng.uniform(0.5, 6.5, n), rng.uniform(10, 90, n)],
        end_ago + rng.uniform(2, 35, n),
    )
    start_ago = np.minimum(start_ago, 90.0)
    return now - start_ago * SECONDS_PER_DAY, now - end_ago * SECONDS_PER_DAY


def _events(
    rng: np.random.Generator,
    themes: tuple[Theme, ...],
    users: list[UserRecord],
    items: list[ItemRecord],
    truth: SyntheticTruth,
    published: np.ndarray,
    expires: np.ndarray,
    n_events: int,
    now: float,
) -> EventTable:
    n_users, n_items = len(users), len(items)
    user_cluster, item_cluster = truth.user_cluster, truth.item_cluster
    user_weight = rng.lognormal(0.0, 1.0, n_users)
    user_weight[truth.cold_users] = 0.0
    # Per-user counts, then repeat: far cheaper than n_events weighted draws over all users.
    counts = rng.multinomial(n_events, user_weight / user_weight.sum())
    user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    start, end = _activity_windows(rng, truth.user_activity, now)
    ts = start[user] + rng.random(n_events) * (end - start)[user]
    cluster_of_event = user_cluster[user]

    # Popularity is Zipf-like within each cluster, in a random order of its items.
    popularity = _zipf(n_items, 0.8)[rng.permutation(n_items)]
    popularity[truth.cold_items] = 0.0
    members = [np.flatnonzero(item_cluster == c) for c in range(len(themes))]
    opens = np.where(np.isnan(expires), np.inf, expires)

    def draw(rows: np.ndarray) -> np.ndarray:
        mine = rng.random(len(rows)) < IN_CLUSTER_SHARE
        picked = np.empty(len(rows), dtype=np.int64)
        others = np.flatnonzero(~mine)
        picked[others] = _weighted_sample(rng, np.arange(n_items), popularity, len(others))
        own = cluster_of_event[rows]
        for c, items_of_c in enumerate(members):
            slots = np.flatnonzero(mine & (own == c))
            picked[slots] = _weighted_sample(rng, items_of_c, popularity[items_of_c], len(slots))
        return picked

    # An event needs its item live at that moment: redraw those that are not, a few rounds,
    # then fall back to the cluster's anchor item (published 180 days ago, never expires),
    # which is item row c for cluster c.
    item = draw(np.arange(n_events))
    invalid = np.flatnonzero((published[item] > ts) | (opens[item] <= ts))
    for _ in range(12):
        if not len(invalid):
            break
        item[invalid] = draw(invalid)
        moment = ts[invalid]
        invalid = invalid[(published[item[invalid]] > moment) | (opens[item[invalid]] <= moment)]
    item[invalid] = cluster_of_event[invalid]

    type_code = _weighted_sample(
        rng, np.arange(len(EVENT_TYPES), dtype=np.int16), np.asarray(EVENT_TYPE_P), n_events
    )
    price = np.array([themes[int(c)].price_median for c in item_cluster])
    price = np.round(price * rng.lognormal(0.0, 0.5, n_items), 2)
    value = np.where(type_code == EVENT_TYPES.index("purchase"), price[item], np.nan)
    order = np.argsort(ts)
    return EventTable(
        user_ids=[u.id for u in users],
        item_ids=[i.id for i in items],
        user=user[order],
        item=item[order],
        type_names=EVENT_TYPES,
        type_code=type_code[order],
        ts=ts[order],
        value=value[order],
        id_prefix="evt-",
        id_width=max(8, len(str(n_events - 1))),
    )
