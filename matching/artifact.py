"""A model version on disk: one directory, written atomically, loaded memory-mapped.

Layout: `<version>/manifest.json` + numpy arrays (`*.npy`, no pickles) + `users.faiss` /
`items.faiss` + id lists (`*.json`). Everything is written into a hidden sibling temp
directory, each file fsynced, the manifest last; then one os.rename puts the directory under
its final name. A crash at any point leaves either no directory with that name or a complete
one, and `load_model` refuses a directory whose manifest is missing or unreadable.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from matching.config import ModelConfig
from matching.data import EventLog
from matching.hybrid import HybridSpace, RidgeProjection
from matching.index import VectorIndex
from matching.manifest import FORMAT_VERSION, MANIFEST, IncompleteArtifact, read_manifest
from matching.model import TrainedModel
from matching.precomputed import PrecomputedAnswers
from matching.ranking import Ranker, RankingStage
from matching.sparse_rows import RowLists
from matching.tagspace import tagspace_from_arrays, tagspace_to_arrays
from matching.vocabulary import Vocabulary

TEMP_MARKER = ".tmp-"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _arrays(model: TrainedModel) -> dict[str, np.ndarray]:
    space = model.space
    arrays = {
        "user_vectors": model.user_vectors,
        "item_vectors": model.item_vectors,
        "popularity": model.popularity,
        "seen_indptr": model.seen.indptr,
        "seen_indices": model.seen.indices,
        "item_category": model.item_category,
        "item_published": model.item_published,
        "item_expires": model.item_expires,
        "user_consent": model.user_consent,
        "events.user": model.events.user,
        "events.item": model.events.item,
        "events.type_code": model.events.type_code,
        "events.value": model.events.value,
        "events.ts": model.events.ts,
        "tag_components": space.tag_components,
        "item_projection_columns": space.item_projection.columns,
        "item_projection_weights": space.item_projection.weights,
        "item_projection_intercept": space.item_projection.intercept,
        "user_projection_columns": space.user_projection.columns,
        "user_projection_weights": space.user_projection.weights,
        "user_projection_intercept": space.user_projection.intercept,
    }
    arrays.update({f"tagspace.{k}": v for k, v in tagspace_to_arrays(model.tagspace).items()})
    arrays.update(_ranking_arrays(model.ranking))
    if model.precomputed is not None:
        arrays.update(model.precomputed.arrays())
    return {name: np.asarray(value) for name, value in arrays.items()}


def _ranking_arrays(ranking: RankingStage | None) -> dict[str, np.ndarray]:
    if ranking is None:
        return {}
    arrays = {
        "ranking.popularity": ranking.popularity,
        "ranking.recency": ranking.recency,
        "ranking.age": ranking.age,
        "ranking.weights": ranking.ranker.weights,
        "ranking.model": ranking.ranker.to_bytes(),
        "ranking.item_item_candidates": np.array([ranking.item_item_candidates], np.int64),
        "ranking.activity": np.array([ranking.activity], np.float64),
        "ranking.sequence_recent": np.array([ranking.sequence_recent], np.int64),
    }
    if ranking.item_item_dense is not None:
        arrays["ranking.item_item_dense"] = ranking.item_item_dense
    if ranking.item_item_sparse is not None:
        arrays["ranking.item_item_data"] = ranking.item_item_sparse.data
        arrays["ranking.item_item_indices"] = ranking.item_item_sparse.indices
        arrays["ranking.item_item_indptr"] = ranking.item_item_sparse.indptr
    if ranking.sequence is not None:
        arrays["ranking.sequence_data"] = ranking.sequence.data
        arrays["ranking.sequence_indices"] = ranking.sequence.indices
        arrays["ranking.sequence_indptr"] = ranking.sequence.indptr
    return arrays


def _ranking_stage(arrays: Mapping[str, np.ndarray], n_items: int) -> RankingStage | None:
    """The ranking stage from (memory-mapped) arrays; None for a model saved without one. A
    stage saved before the sequence features has no sequence model: those features are 0,
    which its ranker never read."""
    if "ranking.model" not in arrays:
        return None
    recent = arrays.get("ranking.sequence_recent")
    return RankingStage(
        item_item_dense=arrays.get("ranking.item_item_dense"),
        item_item_sparse=_square(arrays, "ranking.item_item", n_items),
        sequence=_square(arrays, "ranking.sequence", n_items),
        popularity=arrays["ranking.popularity"],
        recency=arrays["ranking.recency"],
        age=arrays["ranking.age"],
        ranker=Ranker.from_arrays(arrays["ranking.weights"], arrays["ranking.model"]),
        item_item_candidates=int(arrays["ranking.item_item_candidates"][0]),
        activity=float(arrays["ranking.activity"][0]),
        sequence_recent=int(recent[0]) if recent is not None else 0,
    )


def _square(arrays: Mapping[str, np.ndarray], name: str, n: int) -> sp.csr_matrix | None:
    """The (n, n) CSR matrix saved as name_data / _indices / _indptr, mapped, or None."""
    if f"{name}_indptr" not in arrays:
        return None
    parts = (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"])
    return sp.csr_matrix(parts, shape=(n, n), copy=False)


def save_model(model: TrainedModel, directory: Path) -> None:
    """Write `model` to `directory` (which must not exist yet) atomically."""
    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(f"model directory already exists: {directory}")
    directory.parent.mkdir(parents=True, exist_ok=True)
    temp = directory.parent / f".{directory.name}{TEMP_MARKER}{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    try:
        files: list[str] = []
        for name, array in (_arrays(model) | serving_arrays(model)).items():
            path = temp / f"{name}.npy"
            np.save(path, array, allow_pickle=False)
            files.append(path.name)
        for name, vocab in (
            ("users", model.users),
            ("items", model.items),
            ("categories", model.categories),
        ):
            (temp / f"{name}.json").write_text(json.dumps(vocab.to_list(), ensure_ascii=False))
            files.append(f"{name}.json")
        model.user_index.save(temp / "users.faiss")
        model.item_index.save(temp / "items.faiss")
        files += ["users.faiss", "items.faiss"]
        for name in files:
            _fsync_file(temp / name)
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": model.version,
            "digest": model.digest,
            "config": model.config.model_dump(mode="json"),
            "metrics": model.metrics,
            "created_at": model.created_at,
            "snapshot_time": model.snapshot_time,
            "counts": model.counts,
            "event_types": list(model.events.type_names),
            "space": {
                "user_cf_scale": model.space.user_cf_scale,
                "item_cf_scale": model.space.item_cf_scale,
                "tag_share": model.space.tag_share,
                "n_factors": model.space.n_factors,
            },
            "files": sorted(files),
        }
        with open(temp / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=1, allow_nan=True)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(temp)
        os.rename(temp, directory)
        _fsync_dir(directory.parent)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def stored_config(directory: Path) -> dict[str, Any] | None:
    """The config a version was fitted with, from its manifest; None when it is unreadable."""
    try:
        config = read_manifest(directory).get("config")
    except IncompleteArtifact:
        return None
    return config if isinstance(config, dict) else None


def load_model(directory: Path, mmap: bool = True) -> TrainedModel:
    directory = Path(directory)
    manifest = read_manifest(directory)
    mode: Literal["r"] | None = "r" if mmap else None
    # Plain ndarray views of the mappings: the same shared pages, without np.memmap's
    # per-operation subclass overhead (every slice of a memmap is a new memmap).
    arrays: dict[str, np.ndarray] = {
        name[: -len(".npy")]: np.load(directory / name, mmap_mode=mode, allow_pickle=False).view(
            np.ndarray
        )
        for name in manifest["files"]
        if name.endswith(".npy")
    }

    def vocab(name: str) -> Vocabulary:
        return Vocabulary.from_list(json.loads((directory / f"{name}.json").read_text("utf-8")))

    def projection(side: str) -> RidgeProjection:
        return RidgeProjection(
            arrays[f"{side}_projection_columns"],
            arrays[f"{side}_projection_weights"],
            arrays[f"{side}_projection_intercept"],
        )

    config = ModelConfig.model_validate(manifest["config"])
    space_meta: Mapping[str, Any] = manifest["space"]
    users, items = vocab("users"), vocab("items")
    tag_arrays = {k[len("tagspace.") :]: v for k, v in arrays.items() if k.startswith("tagspace.")}
    seen = sp.csr_matrix(
        (_ones(len(arrays["seen_indices"])), arrays["seen_indices"], arrays["seen_indptr"]),
        shape=(len(users), len(items)),
    )
    model = TrainedModel(
        version=manifest["version"],
        config=config,
        digest=manifest["digest"],
        created_at=float(manifest["created_at"]),
        snapshot_time=float(manifest["snapshot_time"]),
        users=users,
        items=items,
        tagspace=tagspace_from_arrays(tag_arrays),
        space=HybridSpace(
            tag_components=arrays["tag_components"],
            item_projection=projection("item"),
            user_projection=projection("user"),
            user_cf_scale=float(space_meta["user_cf_scale"]),
            item_cf_scale=float(space_meta["item_cf_scale"]),
            tag_share=float(space_meta["tag_share"]),
            n_factors=int(space_meta["n_factors"]),
        ),
        user_vectors=arrays["user_vectors"],
        item_vectors=arrays["item_vectors"],
        popularity=arrays["popularity"],
        seen=seen,
        categories=vocab("categories"),
        item_category=arrays["item_category"],
        user_index=VectorIndex.load(
            directory / "users.faiss", arrays["user_vectors"], config.index, mmap=mmap
        ),
        item_index=VectorIndex.load(
            directory / "items.faiss", arrays["item_vectors"], config.index, mmap=mmap
        ),
        item_published=arrays["item_published"],
        item_expires=arrays["item_expires"],
        user_consent=arrays["user_consent"],
        events=EventLog(
            user=arrays["events.user"],
            item=arrays["events.item"],
            type_code=arrays["events.type_code"],
            value=arrays["events.value"],
            ts=arrays["events.ts"],
            type_names=list(manifest["event_types"]),
        ),
        metrics=manifest.get("metrics", {}),
        ranking=_ranking_stage(arrays, len(items)),
        precomputed=PrecomputedAnswers.from_arrays(arrays, len(users), len(items)),
    )
    use_stored_serving_caches(model, arrays)
    return model


# ---- serving caches: what TrainedModel.warm() would otherwise build in every worker --------
SERVING_PREFIX = "serving."


def _ones(n: int) -> np.ndarray:
    """n float32 ones as a read-only broadcast view: the values of a structure-only CSR
    without allocating n of them in every process."""
    return np.broadcast_to(np.float32(1), (n,))


def _csr_parts(name: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    # int32 indices whenever they fit: scipy would downcast int64 ones on load, a copy
    index = np.int32 if max(matrix.nnz, *matrix.shape) < np.iinfo(np.int32).max else np.int64
    return {
        f"{SERVING_PREFIX}{name}.data": np.asarray(matrix.data),
        f"{SERVING_PREFIX}{name}.indices": np.asarray(matrix.indices, index),
        f"{SERVING_PREFIX}{name}.indptr": np.asarray(matrix.indptr, index),
        f"{SERVING_PREFIX}{name}.shape": np.array(matrix.shape, np.int64),
    }


def _row_lists_parts(name: str, lists: RowLists) -> dict[str, np.ndarray]:
    return {
        f"{SERVING_PREFIX}{name}.indices": np.asarray(lists.indices),
        f"{SERVING_PREFIX}{name}.indptr": np.asarray(lists.indptr),
    }


def serving_arrays(model: TrainedModel) -> dict[str, np.ndarray]:
    """The model's serving caches as plain arrays, computed once at save time."""
    return (
        _csr_parts("user_tags", model.user_tag_matrix)
        | _row_lists_parts("interactions_by_user", model.interactions_by_user)
        | _row_lists_parts("interactions_by_item", model.interactions_by_item)
    )


def use_stored_serving_caches(model: TrainedModel, arrays: Mapping[str, np.ndarray]) -> bool:
    """Hand the model its serving caches straight from the (memory-mapped) arrays, no copy.
    An artifact saved before they were stored has none: warm() then builds them. True when
    the stored ones are used."""
    if not any(name.startswith(SERVING_PREFIX) for name in arrays):
        return False

    def part(name: str) -> np.ndarray:
        return arrays[f"{SERVING_PREFIX}{name}"]

    user_tags = sp.csr_matrix(
        (part("user_tags.data"), part("user_tags.indices"), part("user_tags.indptr")),
        shape=tuple(int(x) for x in part("user_tags.shape")),
    )
    model.use_serving_caches(
        user_tags,
        RowLists(part("interactions_by_user.indptr"), part("interactions_by_user.indices")),
        RowLists(part("interactions_by_item.indptr"), part("interactions_by_item.indices")),
    )
    return True


def remove_stale_temp_dirs(parent: Path) -> list[Path]:
    """Delete temp directories a crashed save left behind; returns what was removed."""
    removed = []
    for path in Path(parent).glob(f".*{TEMP_MARKER}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
