"""Erasing users from a saved version: other answers unchanged, a reader holding the old
files unaffected, a crash part-way finished by the next purge."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from matching import erasure, precomputed
from matching.config import ALSConfig, HybridConfig, ModelConfig, SearchConfig
from matching.erasure import TOMBSTONE_PREFIX, erase_users_from_version
from matching.model import TrainedModel
from matching.pipeline import train

CONFIG = ModelConfig(
    als=ALSConfig(factors=8, iterations=4),
    hybrid=HybridConfig(tag_dim=4),
    search=SearchConfig(trials=0),
)


@pytest.fixture(scope="module")
def erasure_model(engine_planted) -> TrainedModel:
    return train(engine_planted.snapshot, CONFIG, version="e1", evaluate=False)


def test_erased_users_become_tombstones_and_everyone_else_is_answered_the_same(
    tmp_path, erasure_model
):
    erasure_model.save(tmp_path / "e1")
    reader = TrainedModel.load(tmp_path / "e1")  # memory-mapped, as serving holds it
    gone = {"u0", "u88"}
    row_u0 = reader.users.index("u0")
    assert row_u0 is not None and np.abs(reader.user_vectors[row_u0]).sum() > 0

    assert erase_users_from_version(tmp_path / "e1", gone.__contains__) == 2
    after = TrainedModel.load(tmp_path / "e1")
    assert not gone & set(after.users) and len(after.users) == len(reader.users)
    assert after.users.ids[row_u0] == f"{TOMBSTONE_PREFIX}{row_u0}"
    assert not after.user_vectors[row_u0].any() and not after.user_consent[row_u0]
    for user in ("u1", "u5", "u42"):
        assert after.recommend(user, 5) == erasure_model.recommend(user, 5)
    assert after.recommend("u0", 5) == after.recommend("nobody", 5)  # a stranger now
    # What training stored for them is blanked; everyone else's stored answers stay.
    slot = int(reader.precomputed.user_slot[row_u0])
    stored = after.precomputed
    assert slot >= 0 and stored.user_slot[row_u0] == -1 and (stored.user_items[slot] == -1).all()
    assert not np.isin(np.asarray(stored.item_users), [row_u0, reader.users.index("u88")]).any()
    for user in ("u1", "u5", "u42"):
        before = precomputed.recommend(erasure_model, user, 5)
        assert precomputed.recommend(after, user, 5) == before
    listed = np.asarray(reader.precomputed.item_users)[:, :40]
    item = erasure_model.items.id(int(np.flatnonzero((listed == row_u0).any(axis=1))[0]))
    before = precomputed.audience(erasure_model, item, 40)
    assert before is not None and "u0" in {s.id for s in before}
    assert precomputed.audience(after, item, 20) == [s for s in before if s.id not in gone][:20]
    # The reader mapped the old files before the rename: it reads them unchanged.
    assert np.abs(reader.user_vectors[row_u0]).sum() > 0 and "u0" in reader.users
    assert not [p for p in (tmp_path / "e1").iterdir() if p.name.startswith(".")]
    assert erase_users_from_version(tmp_path / "e1", gone.__contains__) == 0  # idempotent


def test_a_crash_before_the_vocabulary_leaves_the_id_for_the_next_purge(
    tmp_path, monkeypatch, erasure_model
):
    erasure_model.save(tmp_path / "e1")
    real_replace = os.replace

    def failing_replace(source, target):
        if str(target).endswith("users.json"):
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(erasure.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        erase_users_from_version(tmp_path / "e1", {"u0"}.__contains__)
    monkeypatch.undo()
    ids = json.loads((tmp_path / "e1" / "users.json").read_text("utf-8"))
    assert "u0" in ids  # the vocabulary goes last: still findable, so the purge is redone
    assert not [p for p in (tmp_path / "e1").iterdir() if p.name.startswith(".")]
    assert erase_users_from_version(tmp_path / "e1", {"u0"}.__contains__) == 1
    assert "u0" not in TrainedModel.load(tmp_path / "e1").users
