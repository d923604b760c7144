"""Tags from the records (item tags, declared tags) built once per set of records."""

from __future__ import annotations

import numpy as np

from matching.config import EventConfig, TagConfig
from matching.synthetic import generate_catalogue
from matching.tagspace import build_tagspace


def _arrays_equal(a, b) -> bool:
    from matching.tagspace import tagspace_to_arrays

    x, y = tagspace_to_arrays(a), tagspace_to_arrays(b)
    return x.keys() == y.keys() and all(
        x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f")
        for k in x
    )


def test_record_tags_are_reused_across_builds_of_the_same_records_only(monkeypatch):
    import dataclasses

    import matching.tagspace as tagspace
    from matching.search import restrict

    config, events = TagConfig(), EventConfig()
    snap = generate_catalogue(400, 60, 4000, seed=5, clusters=3).to_snapshot()
    tagspace._last_record_tags.clear()
    first = build_tagspace(snap, config, events)
    calls = []
    real = tagspace.build_item_tags
    monkeypatch.setattr(
        tagspace, "build_item_tags", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    first.item_tags.data[:] = 0.0  # what a caller does to its copy stays with it
    first.user_declared.data[:] = 0.0
    again = build_tagspace(snap, config, events)
    assert not calls  # reused
    assert _arrays_equal(again, build_tagspace(snap, config, events))
    assert again.item_tags.nnz and again.item_tags.data.min() > 0
    fresh = tagspace._last_record_tags.clear() or build_tagspace(snap, config, events)
    assert len(calls) == 1 and _arrays_equal(again, fresh)  # the reused build is the fresh one

    half = np.arange(len(snap.events)) % 2 == 0
    part = build_tagspace(restrict(snap, half), config, events)  # same records, fewer events
    assert len(calls) == 1
    assert (part.item_tags != fresh.item_tags).nnz == 0
    assert (part.user_behavioural != fresh.user_behavioural).nnz > 0

    users = list(snap.users)
    users[3] = dataclasses.replace(users[3], attributes={"age": 70, "gender": "f"})
    changed = build_tagspace(dataclasses.replace(snap, users=users), config, events)
    assert len(calls) == 2  # a replaced record: built again
    assert changed.user_declared[3].nnz == 2
    build_tagspace(snap, config.model_copy(update={"keywords_per_item": 3}), events)
    assert len(calls) == 3  # other keyword settings: built again
