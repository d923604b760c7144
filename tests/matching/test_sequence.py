"""Sequence neighbours (matching/sequence.py): the weights as specified, bounded blocks that
change nothing, histories newest first, and a ranker that follows what users do next."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
import scipy.sparse as sp

from matching import sequence
from matching.config import ALSConfig, HybridConfig, ModelConfig, RankingConfig, SearchConfig
from matching.data import EventLog, ItemRecord, Snapshot, UserRecord
from matching.foldin import RecentEvents
from matching.pipeline import train
from matching.ranking import FEATURES, Ranker, RankingStage
from matching.sequence import fit_sequence, items_newest_first, newest_first


def _log(user: list[int], item: list[int], ts: list[float]) -> EventLog:
    return EventLog.from_columns(user=user, item=item, types=["view"] * len(user), ts=ts)


def test_weights_count_pairs_by_distance_forward_and_half_backward_over_sqrt_events():
    # user 0: items 0, 1, 2 in time order (given shuffled); user 1: items 1, 2
    events = _log([0, 1, 0, 1, 0], [2, 1, 0, 2, 1], [30.0, 5.0, 10.0, 6.0, 20.0])
    got = fit_sequence(events, 4, window=2, neighbours=10).toarray()
    raw = np.zeros((4, 4))
    raw[0, 1], raw[1, 0] = 1.0, 0.5  # user 0: 0 -> 1 at distance 1
    raw[1, 2], raw[2, 1] = 1.0 + 1.0, 0.5 + 0.5  # 1 -> 2 for both users
    raw[0, 2], raw[2, 0] = 0.5, 0.25  # user 0: 0 -> 2 at distance 2
    scale = 1 / np.sqrt(np.array([1, 2, 2, 0]) + 1.0)
    np.testing.assert_allclose(got, scale[:, None] * raw * scale[None, :], rtol=1e-6)
    assert got.dtype == np.float32
    # window 1: the distance-2 pair is gone; a user's repeated item is never its own neighbour
    assert fit_sequence(events, 4, window=1, neighbours=10)[0, 2] == 0
    repeated = _log([0, 0, 0], [3, 3, 1], [1.0, 2.0, 3.0])
    assert fit_sequence(repeated, 4, window=2, neighbours=10).diagonal().sum() == 0


def test_each_item_keeps_its_best_neighbours_ties_to_the_lower_row():
    # item 0 is followed by 1, 2 and 3 once each (equal events): a tie broken by row
    events = _log([0, 0, 1, 1, 2, 2], [0, 3, 0, 2, 0, 1], [1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
    kept = fit_sequence(events, 4, window=1, neighbours=2)
    assert kept[0].indices.tolist() == [1, 2]
    assert np.diff(kept.indptr).max() <= 2


def test_building_in_blocks_of_source_items_changes_nothing(monkeypatch):
    rng = np.random.default_rng(5)
    n = 3000
    events = _log(
        rng.integers(0, 80, n).tolist(), rng.integers(0, 60, n).tolist(), rng.random(n).tolist()
    )
    whole = fit_sequence(events, 60, window=5, neighbours=15)
    monkeypatch.setattr(sequence, "_BLOCK_PAIRS", 500)
    assert len(sequence._item_blocks(np.bincount(events.item, minlength=60), 10 * n)) > 5
    blocked = fit_sequence(events, 60, window=5, neighbours=15)
    assert (whole != blocked).nnz == 0


def test_pairs_match_a_plain_loop_over_each_users_events():
    # users with one event, with fewer events than the window and with many more
    rng = np.random.default_rng(11)
    users = np.concatenate([[0], np.full(3, 1), np.full(40, 2), rng.integers(3, 30, 400)])
    n, n_items, window = len(users), 25, 4
    events = _log(users.tolist(), rng.integers(0, n_items, n).tolist(), rng.random(n).tolist())
    raw = np.zeros((n_items, n_items))
    for user in np.unique(users):
        mine = np.flatnonzero(events.user == user)
        items = events.item[mine[np.argsort(events.ts[mine])]]
        for a in range(len(items)):
            for b in range(a + 1, min(a + window, len(items) - 1) + 1):
                if items[a] != items[b]:
                    raw[items[a], items[b]] += 1.0 / (b - a)
                    raw[items[b], items[a]] += sequence.BACKWARD_WEIGHT / (b - a)
    scale = 1 / np.sqrt(np.bincount(events.item, minlength=n_items) + 1.0)
    got = fit_sequence(events, n_items, window=window, neighbours=n_items).toarray()
    np.testing.assert_allclose(got, scale[:, None] * raw * scale[None, :], rtol=1e-6)


def test_histories_come_newest_first():
    # user 0: item 4 at t=1 and t=9, item 2 at t=5, item 7 at t=9 (tie with 4: lower row first)
    events = _log([0, 0, 0, 0, 2], [4, 2, 4, 7, 1], [1.0, 5.0, 9.0, 9.0, 3.0])
    lists = items_newest_first(events, 3)
    assert lists.row(0).tolist() == [4, 7, 2]
    assert lists.row(1).tolist() == [] and lists.row(2).tolist() == [1]
    assert newest_first(np.array([5, 3, 5, 8])).tolist() == [8, 5, 3]


def test_a_ranker_saved_before_the_sequence_features_scores_as_before():
    rng = np.random.default_rng(0)
    old = len(FEATURES) - 2
    data = lightgbm.Dataset(rng.normal(size=(300, old)), label=rng.integers(0, 2, 300))
    booster = lightgbm.train({"objective": "binary", "verbosity": -1}, data, 5)
    features = rng.normal(size=(4, 6, len(FEATURES)))
    ranker = Ranker.from_arrays(np.ones(old, np.float32), Ranker(np.zeros(1), booster).to_bytes())
    assert ranker.weights.shape == (len(FEATURES),) and ranker.weights[old:].sum() == 0
    expected = booster.predict(features[..., :old].reshape(24, old)).reshape(4, 6)
    np.testing.assert_allclose(ranker.score(features), expected)


CHAIN = 40


def _chain_snapshot(seed: int = 3) -> tuple[Snapshot, np.ndarray, dict[int, int]]:
    """Users who each watch six consecutive items of one fixed circular order (a chain: every
    item as often); item rows are shuffled against the chain, so row order says nothing about
    time. Returns the snapshot, the chain (item rows in watching order) and each user's start
    on it."""
    rng = np.random.default_rng(seed)
    chain = rng.permutation(CHAIN)
    users, items, ts, start = [], [], [], {}
    for user in range(120):
        first = int(rng.integers(0, CHAIN))
        start[user] = first
        began = 1_700_000_000.0 + 86_400.0 * rng.random()
        for step in range(6):
            users.append(user)
            items.append(int(chain[(first + step) % CHAIN]))
            ts.append(began + 60.0 * step)
    snapshot = Snapshot(
        users=[UserRecord(id=f"u{u}") for u in range(120)],
        items=[ItemRecord(id=f"i{i}", tags={f"t:{i % 4}": 1.0}) for i in range(CHAIN)],
        events=_log(users, items, [float(t) for t in ts]),
        now=1_700_000_000.0 + 2 * 86_400.0,
    )
    return snapshot, chain, start


@pytest.fixture(scope="module")
def chain_model():
    snapshot, chain, start = _chain_snapshot()
    config = ModelConfig(
        als=ALSConfig(factors=8, iterations=4),
        hybrid=HybridConfig(tag_dim=4),
        search=SearchConfig(trials=0),
        ranking=RankingConfig(sequence_recent=1),
    )
    model = train(snapshot, config, version="chain", evaluate=False)
    assert model.ranking is not None and model.ranking.sequence is not None
    only_now = np.zeros(len(FEATURES), np.float32)
    only_now[FEATURES.index("sequence_recent")] = 1.0
    model.ranking.ranker = Ranker(only_now)  # rank by "what follows the newest item" alone
    return model, chain, start


def test_the_newest_item_decides_what_comes_next(chain_model):
    model, chain, start = chain_model
    for user in range(0, 120, 7):
        newest = chain[(start[user] + 5) % CHAIN]
        assert model.interacted_items(user)[0] == newest
        top = model.recommend(f"u{user}", 1).items[0].id
        assert top == f"i{chain[(start[user] + 6) % CHAIN]}"


def test_a_fresh_event_becomes_the_newest_item(chain_model):
    model, chain, start = chain_model
    user = 10
    elsewhere = (start[user] + 20) % CHAIN  # away from the user's own run
    recent = RecentEvents([f"i{chain[elsewhere]}"], ["view"], [None], [model.snapshot_time + 60])
    top = model.recommend(f"u{user}", 1, recent_events=recent).items[0].id
    assert top == f"i{chain[(elsewhere + 1) % CHAIN]}"


def test_sequence_scores_are_the_sum_of_the_history_rows():
    rng = np.random.default_rng(1)
    matrix = sp.random(30, 30, density=0.2, format="csr", dtype=np.float32, random_state=2)
    zeros = np.zeros(30, np.float32)
    stage = RankingStage(None, None, matrix, zeros, zeros, zeros, Ranker(np.zeros(len(FEATURES))))
    history = [rng.permutation(30)[:5] for _ in range(3)]
    candidates = np.stack([rng.permutation(30)[:8] for _ in range(3)])
    got = stage.sequence_scores(history, candidates)
    dense = matrix.toarray()
    for row in range(3):
        expected = dense[history[row]].sum(axis=0)[candidates[row]]
        np.testing.assert_allclose(got[row], expected, rtol=1e-6)


def test_fresh_events_count_by_their_time_not_their_arrival(chain_model):
    model, chain, start = chain_model
    user = 20
    late, early = (start[user] + 20) % CHAIN, (start[user] + 30) % CHAIN
    now = model.snapshot_time
    # the newer event arrives first: the item watched last still decides
    recent = RecentEvents(
        [f"i{chain[late]}", f"i{chain[early]}"],
        ["view", "view"],
        [None, None],
        [now + 120, now + 60],
    )
    top = model.recommend(f"u{user}", 1, recent_events=recent).items[0].id
    assert top == f"i{chain[(late + 1) % CHAIN]}"
