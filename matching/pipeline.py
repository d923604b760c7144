"""One training run: snapshot in, evaluated TrainedModel out; and the gate that guards activation.

train() measures before it serves. It fits the whole procedure on the time-holdout training
part and scores the held-out last days (the nDCG the gate compares), fits it again with the
events of some items removed to score cold-item audiences, and finally refits on everything:
the served model must know the most recent events, which are the ones the holdout hid. The
metrics therefore describe the procedure on this data, measured the only honest way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from matching.als import confidence_matrix, interaction_matrix
from matching.base import TrainingData
from matching.config import ModelConfig
from matching.data import Snapshot
from matching.evaluate import audience_metrics, cold_item_split, evaluate_model, time_holdout
from matching.index import VectorIndex
from matching.model import TrainedModel
from matching.progress import Progress, ignore_progress
from matching.recommenders import Hybrid
from matching.tagspace import TagSpace, build_tagspace
from matching.vocabulary import Vocabulary

GATE_METRIC_NAME = "ndcg@{k}"


@dataclass(slots=True)
class Fitted:
    tagspace: TagSpace
    confidence: sp.csr_matrix
    model: Hybrid


def fit_snapshot(snapshot: Snapshot, config: ModelConfig, tags: Vocabulary | None = None) -> Fitted:
    """Tag space, confidence matrix and hybrid model of one snapshot."""
    tagspace = build_tagspace(snapshot, config.tags, config.events, tags=tags)
    confidence = confidence_matrix(
        snapshot.events, snapshot.n_users, snapshot.n_items, config.events, snapshot.now
    )
    model = Hybrid(config.als, config.hybrid).fit(TrainingData(confidence, tagspace))
    return Fitted(tagspace, confidence, model)


def _with_events(snapshot: Snapshot, mask: np.ndarray) -> Snapshot:
    events = snapshot.events.subset(mask)
    now = float(events.ts.max()) if len(events) else snapshot.now
    return Snapshot(users=snapshot.users, items=snapshot.items, events=events, now=now)


def _clean(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}


def evaluate_snapshot(
    snapshot: Snapshot, config: ModelConfig, tags: Vocabulary | None = None
) -> dict[str, Any]:
    """Time-holdout ranking metrics and cold-item audience metrics (see module docstring)."""
    cfg = config.eval
    metrics: dict[str, Any] = {"evaluated": False}
    train_mask, test_mask = time_holdout(snapshot.events, cfg)
    if test_mask.any() and train_mask.any():
        fitted = fit_snapshot(_with_events(snapshot, train_mask), config, tags)
        test_events = snapshot.events.subset(test_mask)
        test = interaction_matrix(test_events, snapshot.n_users, snapshot.n_items)
        metrics.update(evaluate_model(fitted.model, fitted.confidence, test, cfg.k))
        metrics.update(evaluated=True, test_events=int(test_mask.sum()))
    if cfg.cold_item_fraction > 0 and len(snapshot.events):
        keep, cold = cold_item_split(snapshot.events, cfg.cold_item_fraction, cfg.seed)
        if len(cold) and keep.any():
            fitted = fit_snapshot(_with_events(snapshot, keep), config, tags)
            held = snapshot.events.subset(~keep)
            truth = interaction_matrix(held, snapshot.n_users, snapshot.n_items).T.tocsr()[cold]
            vectors = fitted.model
            cold_start = audience_metrics(
                lambda rows: vectors.item_vectors[rows] @ vectors.user_vectors.T,
                cold,
                truth,
                cfg.audience_k,
            )
            metrics.update({f"cold_{name}": value for name, value in cold_start.items()})
    return _clean(metrics)


def train(
    snapshot: Snapshot,
    config: ModelConfig,
    previous: TrainedModel | None = None,
    version: str | None = None,
    evaluate: bool = True,
    progress: Progress | None = None,
) -> TrainedModel:
    """Evaluate the procedure, then fit it on everything and index the result. `progress`
    hears each stage as it starts, with the fraction of this call done."""
    report = progress or ignore_progress
    started = time.time()
    tags = previous.tagspace.tags if previous is not None else None
    report("evaluate", 0.0)
    metrics: dict[str, Any] = (
        evaluate_snapshot(snapshot, config, tags) if evaluate else {"evaluated": False}
    )
    report("fit", 0.6 if evaluate else 0.0)
    fitted = fit_snapshot(snapshot, config, tags)
    report("index", 0.9)
    hybrid = fitted.model
    categories = Vocabulary(sorted({i.category for i in snapshot.items if i.category}))
    item_category = np.array(
        [categories.index(i.category) if i.category else -1 for i in snapshot.items] or [],
        dtype=np.int32,
    )
    metrics["train_seconds"] = round(time.time() - started, 3)
    created = time.time()
    return TrainedModel(
        version=version or time.strftime("%Y%m%dT%H%M%S", time.gmtime(created)),
        config=config,
        digest=config.digest(),
        created_at=created,
        snapshot_time=snapshot.now,
        users=snapshot.user_vocab,
        items=snapshot.item_vocab,
        tagspace=fitted.tagspace,
        space=hybrid.space,
        user_vectors=hybrid.user_vectors,
        item_vectors=hybrid.item_vectors,
        popularity=np.asarray(fitted.confidence.sum(axis=0), dtype=np.float32).ravel(),
        seen=sp.csr_matrix(
            (
                np.ones(fitted.confidence.nnz, np.float32),
                fitted.confidence.indices,
                fitted.confidence.indptr,
            ),
            shape=fitted.confidence.shape,
        ),
        categories=categories,
        item_category=item_category,
        user_index=VectorIndex.build(hybrid.user_vectors, config.index),
        item_index=VectorIndex.build(hybrid.item_vectors, config.index),
        item_published=_times([i.published_at for i in snapshot.items]),
        item_expires=_times([i.expires_at for i in snapshot.items]),
        user_consent=np.array([u.push_consent for u in snapshot.users], dtype=bool),
        events=snapshot.events,
        metrics=metrics,
    )


def _times(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def gate(
    candidate_metrics: dict[str, Any],
    active_metrics: dict[str, Any] | None,
    tolerance: float,
    k: int = 10,
) -> tuple[bool, str]:
    """Accept the candidate unless its nDCG@k is worse than the active one's by more than
    `tolerance` (relative). Holdouts differ between runs (newer data), hence the tolerance."""
    name = GATE_METRIC_NAME.format(k=k)
    if not active_metrics or active_metrics.get(name) is None:
        return True, f"no active {name} to compare with"
    active = float(active_metrics[name])
    candidate = candidate_metrics.get(name)
    if candidate is None:
        return False, f"candidate has no {name} (not evaluated); use force to activate"
    floor = active * (1.0 - tolerance)
    verdict = f"{name} {float(candidate):.4f} vs active {active:.4f} (floor {floor:.4f})"
    if float(candidate) >= floor:
        return True, f"accepted: {verdict}"
    return False, f"refused: {verdict}"
