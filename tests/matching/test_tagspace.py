import io

import numpy as np
import pytest
import scipy.sparse as sp

from matching.config import EventConfig, LifecycleConfig, TagConfig
from matching.csr_rows import l2_normalize_rows
from matching.data import SECONDS_PER_DAY as DAY
from matching.data import Attributes, EventLog, ItemRecord, Snapshot, UserRecord
from matching.tagging import lifecycle_stages, quantile_bands
from matching.tagspace import (
    LIFECYCLE_STAGES,
    build_tagspace,
    declared_persona,
    interaction_weights,
    tagspace_from_arrays,
    tagspace_to_arrays,
)

NOW = 1_700_000_000.0
CONFIG = TagConfig(predict_c=10.0)


def _items() -> list[ItemRecord]:
    yoga = [
        ItemRecord(
            f"y{i}", title="瑜伽课程", text=f"在家练习瑜伽 冥想 第{i}课", tags={"topic:yoga": 1}
        )
        for i in range(3)
    ]
    ball = [
        ItemRecord(
            f"b{i}", title="Football match", text=f"league goals round {i}", category="sport"
        )
        for i in range(3)
    ]
    return yoga + ball


def _snapshot() -> Snapshot:
    """Women read yoga (items 0-2) and are 25-34, men read football (3-5) and are 45-54.

    The last four users declared less: w? and m? nothing, "f_only" only gender, "idle" has
    no events at all.
    """
    users: list[UserRecord] = []
    rows: list[int] = []
    items: list[int] = []
    rng = np.random.default_rng(3)
    for i in range(24):
        woman = i % 2 == 0
        users.append(
            UserRecord(f"u{i}", {"gender": "f" if woman else "m", "age": 29 if woman else 50})
        )
        for item in rng.choice(3, 2, replace=False):
            rows.append(i)
            items.append(int(item) + (0 if woman else 3))
    extra: list[tuple[str, Attributes, tuple[int, int]]] = [
        ("w?", {}, (0, 1)),
        ("m?", {}, (4, 5)),
        ("f_only", {"gender": "女"}, (0, 2)),
    ]
    for uid, attributes, touched in extra:
        for item in touched:
            rows.append(len(users))
            items.append(item)
        users.append(UserRecord(uid, attributes, tags={"vip:gold": 1.0}))
    users.append(UserRecord("idle", {}))
    ts = NOW - DAY * (1 + np.arange(len(rows)) % 5)
    events = EventLog.from_columns(rows, items, ["view"] * len(rows), ts)
    return Snapshot(users=users, items=_items(), events=events, now=NOW)


@pytest.fixture(scope="module")
def space():
    return build_tagspace(_snapshot(), CONFIG, EventConfig())


def _row(space, matrix, user_row: int) -> dict[str, float]:
    m = getattr(space, matrix)[user_row]
    return dict(zip(space.tags.lookup(m.indices), m.data.tolist(), strict=True))


def test_decay_one_half_life_old_weighs_half_and_type_weights_apply():
    events = EventLog.from_columns(
        [0, 1, 2, 3],
        [0, 0, 0, 0],
        ["view", "view", "purchase", "mystery"],
        [NOW, NOW - 60 * DAY, NOW - 120 * DAY, NOW + DAY],
    )
    snap = Snapshot(
        users=[UserRecord(f"u{i}") for i in range(4)],
        items=[ItemRecord("i")],
        events=events,
        now=NOW,
    )
    config = EventConfig(unknown_type_weight=0.25)
    w = interaction_weights(snap, TagConfig(behaviour_half_life_days=60), config).toarray()[:, 0]
    np.testing.assert_allclose(w, [1.0, 0.5, 5.0 * 0.25, 0.25], rtol=1e-6)  # future clips to now


def test_behavioural_tags_follow_the_items_and_are_unit_norm(space):
    woman = _row(space, "user_behavioural", 0)
    man = _row(space, "user_behavioural", 1)
    assert "topic:yoga" in woman and "kw:瑜伽" in woman and "kw:football" not in woman
    assert "cat:sport" in man and "kw:football" in man and "topic:yoga" not in man
    norms = np.sqrt(np.asarray(space.user_behavioural.multiply(space.user_behavioural).sum(1)))
    np.testing.assert_allclose(norms[:-1], 1.0, rtol=1e-5)
    assert space.user_behavioural[len(space.lifecycle) - 1].nnz == 0  # idle user
    capped = build_tagspace(_snapshot(), TagConfig(behaviour_top_tags=2), EventConfig())
    assert capped.user_behavioural.getnnz(axis=1).max() == 2


def test_declared_tags_merge_attributes_and_tags(space):
    assert _row(space, "user_declared", 0) == {"gender:f": 1.0, "age:25-34": 1.0}
    assert _row(space, "user_declared", 26) == {"gender:f": 1.0, "vip:gold": 1.0}


def test_predicted_tags_for_undeclared_users_only(space):
    w, m, f_only, idle = 24, 25, 26, 27
    assert _row(space, "user_predicted", w).keys() == {"gender:f", "age:25-34"}
    assert _row(space, "user_predicted", m).keys() == {"gender:m", "age:45-54"}
    assert _row(space, "user_predicted", f_only).keys() == {"age:25-34"}  # gender was declared
    assert space.user_predicted[:24].nnz == 0  # everyone declared both
    assert space.user_predicted[idle].nnz == 0  # nothing to predict from
    assert space.user_predicted.data.min() >= CONFIG.predict_min_confidence
    assert space.user_predicted.data.max() <= 1.0


def test_predictions_below_the_threshold_are_not_stored():
    snap = _snapshot()
    everything = build_tagspace(snap, TagConfig(predict_min_confidence=0.0), EventConfig())
    confidences = everything.user_predicted.data
    threshold = float(np.median(confidences))
    strict = build_tagspace(snap, TagConfig(predict_min_confidence=threshold), EventConfig())
    assert strict.user_predicted.nnz == int((confidences >= threshold).sum())
    assert strict.user_predicted.nnz < everything.user_predicted.nnz
    kept = everything.user_predicted.multiply(everything.user_predicted >= threshold)
    assert abs(strict.user_predicted - kept).max() < 1e-6


def test_lifecycle_transitions_exactly_at_thresholds():
    cfg = LifecycleConfig(new_days=7, silent_days=14, churned_days=60)
    first_days = np.array([0, 7, 7.01, 100, 100, 100, 100, 100])
    last_days = np.array([0, 7, 7.01, 14, 14.01, 60, 60.01, 0])
    count = np.array([0, 1, 1, 1, 1, 1, 1, 1])
    stages = lifecycle_stages(NOW - first_days * DAY, NOW - last_days * DAY, count, NOW, cfg)
    names = [LIFECYCLE_STAGES[s] for s in stages]
    assert names == ["new", "new", "active", "active", "silent", "silent", "churned", "active"]


def test_system_tags_lifecycle_and_rfm(space):
    system = _row(space, "user_system", 0)
    assert system["life:new"] == 1.0  # first event within 7 days
    assert {t[:5] for t in system if t.startswith("rfm:")} == {"rfm:r", "rfm:f"}  # no value: no m
    assert space.rfm[0, 2] == 0 and space.rfm[0, 0] >= 1
    assert LIFECYCLE_STAGES[space.lifecycle[-1]] == "new" and tuple(space.rfm[-1]) == (0, 0, 0)
    assert _row(space, "user_system", 27) == {"life:new": 1.0}
    assert space.event_count[0] == 2 and np.isnan(space.first_ts[-1])


def test_quantile_bands_rank_ties_and_missing():
    values = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 0.0])
    mask = np.array([True] * 5 + [False])
    assert quantile_bands(values, mask, 5).tolist() == [1, 2, 3, 4, 5, 0]
    assert quantile_bands(np.arange(10.0), np.ones(10, bool), 5).tolist() == [
        1, 1, 2, 2, 3, 3, 4, 4, 5, 5
    ]  # fmt: skip
    assert quantile_bands(np.ones(4), np.ones(4, bool), 5).tolist() == [3, 3, 3, 3]


def test_rfm_recency_frequency_monetary_directions():
    events = EventLog.from_columns(
        [0, 1, 1, 1, 2, 2],
        [0, 0, 0, 0, 0, 0],
        ["purchase"] * 6,
        [NOW - 30 * DAY, NOW - 9 * DAY, NOW - 8 * DAY, NOW - DAY, NOW - 5 * DAY, NOW - 5 * DAY],
        [0, 10, 10, 10, 500, 0],
    )
    users = [UserRecord(f"u{i}") for i in range(4)]
    snap = Snapshot(users=users, items=[ItemRecord("i")], events=events, now=NOW)
    space = build_tagspace(snap, TagConfig(lifecycle=LifecycleConfig(rfm_bands=3)), EventConfig())
    assert space.rfm.tolist() == [[1, 1, 0], [3, 3, 1], [2, 2, 3], [0, 0, 0]]
    assert set(_row(space, "user_system", 2)) == {
        "life:new",
        "rfm:r2",
        "rfm:f2",
        "rfm:m3",
    }  # first event 5 days ago


def test_user_matrix_excludes_system_tags_and_is_unit(space):
    m = space.user_matrix()
    tags = set(space.tags.lookup(np.unique(m.indices)))
    assert not any(t.startswith(("life:", "rfm:")) for t in tags)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(1))).ravel()
    np.testing.assert_allclose(norms[:-1], 1.0, rtol=1e-5)
    assert "age:25-34" in set(space.tags.lookup(m[24].indices))  # predicted enters the profile


def test_user_matrix_is_the_normalised_sums_and_leaves_the_sources_alone(space):
    """Normalised in place (no copies of a million rows), to the bit what normalising
    copies gives, and the tag space's own matrices are not touched."""
    sources = [space.user_declared, space.user_predicted, space.user_behavioural]
    before = [m.copy() for m in sources]
    m = space.user_matrix()
    profile = l2_normalize_rows(before[0] + before[1])
    expected = l2_normalize_rows(profile + before[2])
    assert (m.indptr.tolist(), m.indices.tolist()) == (
        expected.indptr.tolist(),
        expected.indices.tolist(),
    )
    assert m.data.tobytes() == expected.data.tobytes()
    for source, copy in zip(sources, before, strict=True):
        assert source.data.tobytes() == copy.data.tobytes()


def test_persona_sources_and_fresh_declared(space):
    persona = space.user_persona(24)
    sources = {e["source"] for e in persona["tags"]}
    assert sources == {"declared", "behavioural", "predicted", "system"}
    weights = [e["weight"] for e in persona["tags"]]
    assert weights == sorted(weights, reverse=True)
    assert persona["top_interests"][0]["source"] == "behavioural"
    assert len(persona["top_interests"]) <= 10
    assert persona["lifecycle"] == "new" and set(persona["rfm"]) == {"r", "f", "m"}
    fresh = space.user_persona(24, attributes={"gender": "m"})
    tags = {(e["tag"], e["source"]) for e in fresh["tags"]}
    assert ("gender:m", "declared") in tags and ("gender:f", "predicted") not in tags
    assert ("age:25-34", "predicted") in tags
    cold = declared_persona({"age": 40}, {"kw:瑜伽": 0.5})
    assert [e["tag"] for e in cold["tags"]] == ["age:35-44", "kw:瑜伽"]
    assert cold["lifecycle"] == "new" and cold["top_interests"] == []


def test_cold_vectors_match_catalogue_rows(space):
    items = _items()
    for row in (0, 4):
        item = items[row]
        cold = space.item_tag_vector(item.title, item.text, item.tags, item.category)
        np.testing.assert_allclose(cold.toarray(), space.item_tags[row].toarray(), atol=1e-6)
    unseen = space.item_tag_vector("brand new words", "", {"topic:yoga": 1.0, "never:seen": 1.0})
    assert space.tags.lookup(unseen.indices) == ["topic:yoga"]
    user = space.user_tag_vector({"gender": "f", "age": 29})
    np.testing.assert_allclose(
        user.toarray(), space.user_matrix()[0].toarray() * 0 + _unit(space.user_declared[0])
    )
    assert space.user_tag_vector({}).nnz == 0


def _unit(row: sp.csr_matrix) -> np.ndarray:
    dense = row.toarray()
    return dense / np.linalg.norm(dense)


def test_npz_round_trip(space):
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **tagspace_to_arrays(space))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        loaded = tagspace_from_arrays(dict(data))
    assert loaded.tags == space.tags
    for name in ("item_tags", "user_declared", "user_behavioural", "user_predicted", "user_system"):
        assert (getattr(loaded, name) != getattr(space, name)).nnz == 0
    for name in ("lifecycle", "rfm", "keyword_idf", "first_ts", "last_ts", "event_count"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(space, name))
    assert loaded.keyword_weight == space.keyword_weight
    assert loaded.user_persona(24) == space.user_persona(24)


def test_previous_vocabulary_keeps_columns(space):
    snap = _snapshot()
    shrunk = Snapshot(users=snap.users[:4], items=snap.items[3:], events=EventLog.empty(), now=NOW)
    again = build_tagspace(shrunk, CONFIG, EventConfig(), tags=space.tags)
    assert again.tags.ids[: len(space.tags)] == list(space.tags.ids)
    assert len(space.tags) == len(again.tags)
    assert again.user_declared[0].indices.tolist() == space.user_declared[0].indices.tolist()
