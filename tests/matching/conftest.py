"""Shared fixtures. Names are prefixed by their owner's topic so helpers never collide."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from matching.config import EventConfig, TagConfig
from matching.data import EventLog, ItemRecord, Snapshot, UserRecord
from matching.tagspace import TagSpace, build_tagspace

PLANTED_NOW = 1_700_000_000.0
PLANTED_CLUSTERS = ("yoga", "food", "tech")
PLANTED_OCCUPATION = {"yoga": "athlete", "food": "chef", "tech": "engineer"}


@dataclass
class Planted:
    """Three taste clusters with their own tags and attributes; a few cold users and items."""

    snapshot: Snapshot
    tagspace: TagSpace
    user_cluster: np.ndarray
    item_cluster: np.ndarray
    cold_users: np.ndarray
    cold_items: np.ndarray


def make_planted(
    users_per_cluster: int = 30,
    items_per_cluster: int = 20,
    events_per_user: int = 10,
    in_cluster: float = 0.9,
    cold_per_cluster: int = 3,
    seed: int = 7,
) -> Planted:
    rng = np.random.default_rng(seed)
    k = len(PLANTED_CLUSTERS)
    item_cluster = np.repeat(np.arange(k), items_per_cluster)
    user_cluster = np.repeat(np.arange(k), users_per_cluster)
    items = [
        ItemRecord(
            id=f"i{row}",
            title=f"{PLANTED_CLUSTERS[c]} item {row}",
            tags={f"topic:{PLANTED_CLUSTERS[c]}": 1.0, f"sub:{PLANTED_CLUSTERS[c]}{row % 3}": 0.5},
            category=PLANTED_CLUSTERS[c],
        )
        for row, c in enumerate(item_cluster)
    ]
    users = [
        UserRecord(id=f"u{row}", attributes={"occupation": PLANTED_OCCUPATION[PLANTED_CLUSTERS[c]]})
        for row, c in enumerate(user_cluster)
    ]
    # the last `cold_per_cluster` users and items of each cluster get no events
    cold_users = np.concatenate(
        [np.flatnonzero(user_cluster == c)[-cold_per_cluster:] for c in range(k)]
    )
    cold_items = np.concatenate(
        [np.flatnonzero(item_cluster == c)[-cold_per_cluster:] for c in range(k)]
    )
    warm_items = np.setdiff1d(np.arange(len(items)), cold_items)
    ev_user, ev_item = [], []
    for user in np.setdiff1d(np.arange(len(users)), cold_users):
        own = warm_items[item_cluster[warm_items] == user_cluster[user]]
        other = warm_items[item_cluster[warm_items] != user_cluster[user]]
        n_own = rng.binomial(events_per_user, in_cluster)
        picks = [
            rng.choice(own, size=min(n_own, len(own)), replace=False),
            rng.choice(other, size=events_per_user - n_own, replace=False),
        ]
        chosen = np.concatenate(picks)
        ev_user.extend([user] * len(chosen))
        ev_item.extend(chosen.tolist())
    n = len(ev_user)
    events = EventLog.from_columns(
        user=ev_user,
        item=ev_item,
        types=rng.choice(["view", "click", "like"], size=n).tolist(),
        ts=PLANTED_NOW - rng.uniform(0, 30 * 86_400.0, size=n),
    )
    snapshot = Snapshot(users=users, items=items, events=events, now=PLANTED_NOW)
    tagspace = build_tagspace(snapshot, TagConfig(), EventConfig())
    return Planted(snapshot, tagspace, user_cluster, item_cluster, cold_users, cold_items)


@pytest.fixture(scope="session")
def engine_planted() -> Planted:
    return make_planted()
