"""Model versions on disk: round trip, memory-mapped, atomic under a crash mid-write."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matching import artifact
from matching.artifact import IncompleteArtifact, remove_stale_temp_dirs
from matching.config import (
    ALSConfig,
    HybridConfig,
    IndexConfig,
    ModelConfig,
    RankingConfig,
    SearchConfig,
)
from matching.model import TrainedModel
from matching.pipeline import train

CONFIG = ModelConfig(
    als=ALSConfig(factors=8, iterations=4),
    hybrid=HybridConfig(tag_dim=4),
    search=SearchConfig(trials=0),
)


@pytest.fixture(scope="module")
def artifact_model(engine_planted) -> TrainedModel:
    return train(engine_planted.snapshot, CONFIG, version="a1", evaluate=False)


def test_round_trip_answers_the_same(tmp_path, artifact_model):
    artifact_model.save(tmp_path / "a1")
    loaded = TrainedModel.load(tmp_path / "a1")
    assert _mapped(loaded.item_vectors) and type(loaded.item_vectors) is np.ndarray
    assert loaded.ranking is not None and artifact_model.ranking is not None
    assert loaded.ranking.item_item_dense is not None and _mapped(loaded.ranking.item_item_dense)
    assert np.array_equal(loaded.ranking.ranker.weights, artifact_model.ranking.ranker.weights)
    assert np.array_equal(
        loaded.ranking.ranker.to_bytes(), artifact_model.ranking.ranker.to_bytes()
    )
    assert (loaded.version, loaded.digest) == ("a1", CONFIG.digest())
    assert loaded.config == CONFIG and loaded.counts == artifact_model.counts
    for user in ("u0", "u88", "nobody"):
        assert loaded.recommend(user, 5) == artifact_model.recommend(user, 5)
    assert loaded.audience("i4", 5) == artifact_model.audience("i4", 5)
    assert loaded.similar_items(None, 3, tags={"topic:food": 1}) == artifact_model.similar_items(
        None, 3, tags={"topic:food": 1}
    )
    eager = TrainedModel.load(tmp_path / "a1", mmap=False)
    assert not _mapped(eager.item_vectors)
    with pytest.raises(FileExistsError):
        artifact_model.save(tmp_path / "a1")


def test_sparse_item_knn_ranking_round_trips_memory_mapped(tmp_path, engine_planted):
    """Above ease_max_items the item-to-item part is a sparse kNN, saved as CSR arrays."""
    config = CONFIG.model_copy(update={"ranking": RankingConfig(ease_max_items=10)})
    model = train(engine_planted.snapshot, config, version="knn", evaluate=False)
    assert model.ranking is not None and model.ranking.item_item_dense is None
    model.save(tmp_path / "knn")
    loaded = TrainedModel.load(tmp_path / "knn")
    assert loaded.ranking is not None and loaded.ranking.item_item_sparse is not None
    assert _memory_mapped(loaded.ranking.item_item_sparse.data)
    for user in ("u0", "u40", "u70"):
        assert loaded.recommend(user, 5) == model.recommend(user, 5)


def _memory_mapped(array: np.ndarray) -> bool:
    """scipy wraps the arrays it is handed in plain ndarray views: look through them."""
    while array is not None and not isinstance(array, np.memmap):
        array = getattr(array, "base", None)
    return array is not None


def test_crash_mid_write_keeps_previous_and_hides_partial(tmp_path, monkeypatch, artifact_model):
    artifact_model.save(tmp_path / "a1")
    calls = {"n": 0}
    real_save = np.save

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(artifact.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        artifact_model.save(tmp_path / "a2")
    monkeypatch.undo()
    assert calls["n"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a1"]
    assert TrainedModel.load(tmp_path / "a1").recommend("u0", 3).items


def test_load_refuses_incomplete_directories(tmp_path, artifact_model):
    artifact_model.save(tmp_path / "a1")
    (tmp_path / "a1" / "manifest.json").unlink()
    with pytest.raises(IncompleteArtifact):
        TrainedModel.load(tmp_path / "a1")
    artifact_model.save(tmp_path / "a2")
    (tmp_path / "a2" / "items.faiss").unlink()
    with pytest.raises(IncompleteArtifact, match="missing"):
        TrainedModel.load(tmp_path / "a2")
    (tmp_path / ".a3.tmp-deadbeef").mkdir()  # what a killed writer leaves behind
    assert [p.name for p in remove_stale_temp_dirs(tmp_path)] == [".a3.tmp-deadbeef"]


def _mapped(array: np.ndarray) -> bool:
    """True when the array's memory is a view into a memory-mapped file (no copy of its own)."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return False


def test_serving_caches_load_memory_mapped_and_answer_the_same(tmp_path, artifact_model):
    """What warm() would build in every worker comes from the artifact's files instead."""
    artifact_model.save(tmp_path / "a1")
    loaded = TrainedModel.load(tmp_path / "a1")
    user_tags, by_user, by_item = (
        loaded._user_matrix,
        loaded._interacted,
        loaded._interacted_by_item,
    )
    assert user_tags is not None and by_user is not None and by_item is not None
    for array in (user_tags.data, user_tags.indices, user_tags.indptr):
        assert _mapped(array)
    for lists in (by_user, by_item):
        assert _mapped(lists.indices) and _mapped(lists.indptr)
    assert not loaded.seen.data.flags.owndata and loaded.seen.data.strides == (0,)
    assert loaded.warm()._user_matrix is user_tags  # nothing rebuilt
    built = artifact_model.warm()
    assert (loaded.user_tag_matrix != built.user_tag_matrix).nnz == 0
    for user in range(len(loaded.users)):
        assert loaded.interacted_items(user).tolist() == built.interacted_items(user).tolist()
    for item in range(len(loaded.items)):
        assert loaded.interacted_users(item).tolist() == built.interacted_users(item).tolist()
    eager = TrainedModel.load(tmp_path / "a1", mmap=False)
    assert eager._user_matrix is not None and not _mapped(eager._user_matrix.data)


def test_artifact_saved_without_serving_caches_still_serves(tmp_path, artifact_model):
    """Versions written before the caches were stored load, build them on warm(), and answer
    the same."""
    directory = tmp_path / "a1"
    artifact_model.save(directory)
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    stored = [name for name in manifest["files"] if name.startswith(artifact.SERVING_PREFIX)]
    assert len(stored) == 8
    for name in stored:
        (directory / name).unlink()
    manifest["files"] = [name for name in manifest["files"] if name not in stored]
    (directory / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    old = TrainedModel.load(directory)
    assert old._user_matrix is None and old._interacted is None
    old.warm()
    assert old._user_matrix is not None and old._interacted_by_item is not None
    for user in ("u0", "u88"):
        assert old.recommend(user, 5) == artifact_model.recommend(user, 5)
    assert old.audience("i4", 5, exclude_seen=True) == artifact_model.audience(
        "i4", 5, exclude_seen=True
    )


@pytest.mark.parametrize("kind", ["hnsw", "ivf_sq8"])
def test_large_indexes_read_memory_mapped_answer_like_eager_ones(tmp_path, engine_planted, kind):
    config = CONFIG.model_copy(update={"index": IndexConfig(exact_max=10, large_kind=kind)})
    model = train(engine_planted.snapshot, config, version="h1", evaluate=False)
    model.save(tmp_path / "h1")
    mapped = TrainedModel.load(tmp_path / "h1")
    eager = TrainedModel.load(tmp_path / "h1", mmap=False)
    assert mapped.user_index.kind == mapped.item_index.kind == kind
    for user in ("u0", "u45", "u88"):
        assert mapped.recommend(user, 5) == eager.recommend(user, 5) == model.recommend(user, 5)
    for item in ("i1", "i30"):
        assert mapped.audience(item, 7) == eager.audience(item, 7) == model.audience(item, 7)
