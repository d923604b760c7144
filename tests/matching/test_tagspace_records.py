"""Tags from the records (item tags, declared tags): built once per training run, passed down."""

from __future__ import annotations

import dataclasses

import numpy as np

import matching.tagspace as tagspace
from matching.config import EventConfig, ModelConfig, SearchConfig, TagConfig
from matching.pipeline import train
from matching.search import restrict
from matching.synthetic import generate_catalogue
from matching.tagspace import build_tagspace, record_tags, tagspace_to_arrays


def _arrays_equal(a, b) -> bool:
    x, y = tagspace_to_arrays(a), tagspace_to_arrays(b)
    return x.keys() == y.keys() and all(
        x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f")
        for k in x
    )


def _count_item_tag_builds(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = tagspace.build_item_tags
    monkeypatch.setattr(
        tagspace, "build_item_tags", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    return calls


def test_record_tags_are_reused_by_builds_of_the_same_records_only(monkeypatch):
    config, events = TagConfig(), EventConfig()
    snap = generate_catalogue(400, 60, 4000, seed=5, clusters=3).to_snapshot()
    fresh = build_tagspace(snap, config, events)
    records = record_tags(snap, config)
    calls = _count_item_tag_builds(monkeypatch)
    first = build_tagspace(snap, config, events, records=records)
    assert not calls  # reused
    assert _arrays_equal(first, fresh)  # the reused build is the fresh one
    first.item_tags.data[:] = 0.0  # what a caller does to its copy stays with it
    first.user_declared.data[:] = 0.0
    again = build_tagspace(snap, config, events, records=records)
    assert not calls and _arrays_equal(again, fresh)

    half = np.arange(len(snap.events)) % 2 == 0
    part = build_tagspace(restrict(snap, half), config, events, records=records)
    assert not calls  # same records, fewer events
    assert (part.item_tags != fresh.item_tags).nnz == 0
    assert (part.user_behavioural != fresh.user_behavioural).nnz > 0

    users = list(snap.users)
    users[3] = dataclasses.replace(users[3], attributes={"age": 70, "gender": "f"})
    changed = build_tagspace(dataclasses.replace(snap, users=users), config, events, None, records)
    assert len(calls) == 1  # a replaced record: built again
    assert changed.user_declared[3].nnz == 2
    other = config.model_copy(update={"keywords_per_item": 3})
    build_tagspace(snap, other, events, records=records)
    assert len(calls) == 2  # other keyword settings: built again
    kept = build_tagspace(snap, config, events, tags=fresh.tags, records=records)
    assert len(calls) == 3  # another starting vocabulary: built again
    assert kept.tags.ids == fresh.tags.ids


def test_no_build_keeps_record_tags_for_a_later_one(monkeypatch):
    # Whatever reuse there is goes through `records`: nothing is kept between calls.
    config, events = TagConfig(), EventConfig()
    snap = generate_catalogue(300, 40, 3000, seed=6, clusters=3).to_snapshot()
    calls = _count_item_tag_builds(monkeypatch)
    build_tagspace(snap, config, events)
    build_tagspace(snap, config, events)
    assert len(calls) == 2


def test_a_training_run_builds_the_record_tags_once(monkeypatch):
    snap = generate_catalogue(300, 40, 3000, seed=7, clusters=3).to_snapshot()
    config = ModelConfig(search=SearchConfig(trials=1))
    calls = _count_item_tag_builds(monkeypatch)
    model = train(snap, config, version="v-records")
    assert model.metrics["evaluated"]
    assert len(calls) == 1  # search, holdout, cold-item and final fits share one build
