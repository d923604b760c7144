"""One training run: snapshot in, searched, evaluated TrainedModel out; and the paired gate.

train() measures before it serves:

1. the time holdout splits the snapshot's events into a training part and the newest days;
2. the model search (matching/search.py) runs on the training part only, carving its own
   validation split out of it, and returns the chosen settings and the ranking blend;
3. the chosen procedure is fitted on the training part and scored on the held-out days
   *through the serving path* (TrainedModel.recommend: FAISS retrieval, exclusions, the
   ranking stage, the fallbacks), next to most-popular and, when a model is active, the
   active model's procedure (its stored settings) fitted on the same training part: the gate
   compares numbers from the same holdout, never a number stored from an older one;
4. cold-item audiences are scored on a fit with some items' events removed;
5. the chosen procedure is refitted on everything: the served model must know the newest
   events, which are the ones the holdout hid;
6. the served model's answers for its warm users and its items are computed through its own
   serving path and stored with it (matching/precomputed.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from matching.als import confidence_matrix, decay_reference, interaction_matrix
from matching.base import PAD_ID, TrainingData
from matching.config import ModelConfig
from matching.data import Snapshot
from matching.evaluate import (
    audience_metrics,
    cold_item_split,
    ranking_metrics,
    sample_rows,
    time_holdout,
)
from matching.index import VectorIndex
from matching.model import TrainedModel
from matching.precomputed import precompute
from matching.progress import Progress, ignore_progress
from matching.ranking import Ranker, RankingStage
from matching.recommenders import Hybrid
from matching.search import restrict, search
from matching.tagspace import RecordTags, TagSpace, build_tagspace, record_tags
from matching.vocabulary import Vocabulary

GATE_METRIC_NAME = "ndcg@{k}"


@dataclass(slots=True)
class Fitted:
    tagspace: TagSpace
    confidence: sp.csr_matrix
    model: Hybrid


def fit_snapshot(
    snapshot: Snapshot,
    config: ModelConfig,
    tags: Vocabulary | None = None,
    records: RecordTags | None = None,
) -> Fitted:
    """Tag space, confidence matrix and hybrid model of one snapshot. `records`: the run's
    record tags (tagspace.record_tags), reused when they fit (build_tagspace)."""
    tagspace = build_tagspace(snapshot, config.tags, config.events, tags, records)
    reference = decay_reference(snapshot.events, snapshot.now)
    confidence = confidence_matrix(
        snapshot.events, snapshot.n_users, snapshot.n_items, config.events, reference
    )
    model = Hybrid(config.als, config.hybrid).fit(TrainingData(confidence, tagspace))
    return Fitted(tagspace, confidence, model)


def _clean(value: Any) -> Any:
    """NaN -> None, nested: metrics are stored as JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def served_answers(model: TrainedModel, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(answered, most popular): the item rows `model.recommend` answers each user (seen items
    excluded, as served) and model.popular's fallback for them, (len(users), k), PAD_ID-padded."""
    answered = np.full((len(users), k), PAD_ID, np.int64)
    popular = np.full((len(users), k), PAD_ID, np.int64)
    for i, row in enumerate(users.tolist()):
        items = model.recommend(model.users.id(row), k, exclude_seen=True).items
        answered[i, : len(items)] = model.item_rows([s.id for s in items])
        fallback = model.popular(k, excluded=model.interacted_items(row))
        popular[i, : len(fallback)] = model.item_rows([s.id for s in fallback])
    return answered, popular


def served_metrics(
    model: TrainedModel, truth: sp.csr_matrix, k: int, max_users: int = 0, seed: int = 0
) -> dict[str, Any]:
    """Ranking metrics of what `model.recommend` answers for the users with held-out items
    (a seeded sample of max_users of them when that is fewer: sample_rows, same truth and
    seed, same users); "most_popular" beside it, through model.popular."""
    users = sample_rows(np.flatnonzero(np.diff(truth.indptr) > 0), max_users, seed)
    answered, popular = served_answers(model, users, k)
    n_items = len(model.items)
    metrics: dict[str, Any] = ranking_metrics(answered, truth[users], n_items)
    metrics["most_popular"] = ranking_metrics(popular, truth[users], n_items)
    return metrics


def evaluate_snapshot(
    snapshot: Snapshot,
    config: ModelConfig,
    tags: Vocabulary | None = None,
    active_config: ModelConfig | None = None,
) -> dict[str, Any]:
    """Steps 1-4 of the module docstring: the metrics, nothing kept."""
    records = record_tags(snapshot, config.tags, tags)
    return _clean(_evaluate(snapshot, config, tags, active_config, records)[0])


def _evaluate(
    snapshot: Snapshot,
    config: ModelConfig,
    tags: Vocabulary | None,
    active_config: ModelConfig | None,
    records: RecordTags,
) -> tuple[dict[str, Any], ModelConfig, Ranker | None]:
    """(metrics, chosen config, ranker; None when there was no holdout to search on).
    `records`: the snapshot's record tags, shared by every tag-space build below."""
    cfg = config.eval
    ranker: Ranker | None = None
    metrics: dict[str, Any] = {"evaluated": False}
    train_mask, test_mask = time_holdout(snapshot.events, cfg)
    if test_mask.any() and train_mask.any():
        part = restrict(snapshot, train_mask)
        outcome = search(part, config, tags, records)
        config, ranker = outcome.config, outcome.ranker
        metrics["search"] = outcome.summary(cfg.k)
        truth = interaction_matrix(
            snapshot.events.subset(test_mask), snapshot.n_users, snapshot.n_items
        )
        candidate = build_model(part, config, ranker, tags, "holdout", records=records)
        metrics.update(served_metrics(candidate, truth, cfg.k, cfg.max_users, cfg.seed))
        metrics.update(evaluated=True, test_events=int(test_mask.sum()))
        if active_config is not None:
            as_given = active_config.model_copy(
                update={"search": active_config.search.model_copy(update={"trials": 0})}
            )
            active = search(part, as_given, tags, records)
            fitted = build_model(
                part, active.config, active.ranker, tags, "holdout-active", records=records
            )
            paired = served_metrics(fitted, truth, cfg.k, cfg.max_users, cfg.seed)
            paired.pop("most_popular")
            metrics["active"] = paired
    if cfg.cold_item_fraction > 0 and len(snapshot.events):
        keep, cold = cold_item_split(snapshot.events, cfg.cold_item_fraction, cfg.seed)
        if len(cold) and keep.any():
            fitted_cold = fit_snapshot(restrict(snapshot, keep), config, tags, records)
            held = snapshot.events.subset(~keep)
            cold = sample_rows(cold, cfg.max_cold_items, cfg.seed)  # all held out, some scored
            truth = interaction_matrix(held, snapshot.n_users, snapshot.n_items).T.tocsr()[cold]
            vectors = fitted_cold.model
            cold_start = audience_metrics(
                lambda rows: vectors.item_vectors[rows] @ vectors.user_vectors.T,
                cold,
                truth,
                cfg.audience_k,
            )
            metrics.update({f"cold_{name}": value for name, value in cold_start.items()})
    return metrics, config, ranker


def build_model(
    snapshot: Snapshot,
    config: ModelConfig,
    ranker: Ranker | None,
    tags: Vocabulary | None,
    version: str,
    metrics: dict[str, Any] | None = None,
    report: Progress = ignore_progress,
    records: RecordTags | None = None,
) -> TrainedModel:
    """Fit `config` on the snapshot and assemble what serves it (indexes, ranking stage)."""
    fitted = fit_snapshot(snapshot, config, tags, records)
    report("index", 0.9)
    hybrid = fitted.model
    interacted = interaction_matrix(snapshot.events, snapshot.n_users, snapshot.n_items)
    ranking = (
        RankingStage.fit(interacted, snapshot.events, config.ranking, ranker)
        if config.ranking.enabled
        else None
    )
    categories = Vocabulary(sorted({i.category for i in snapshot.items if i.category}))
    item_category = np.array(
        [categories.index(i.category) if i.category else -1 for i in snapshot.items] or [],
        dtype=np.int32,
    )
    created = time.time()
    return TrainedModel(
        version=version,
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
        metrics=metrics or {},
        ranking=ranking,
    )


def train(
    snapshot: Snapshot,
    config: ModelConfig,
    previous: TrainedModel | None = None,
    version: str | None = None,
    evaluate: bool = True,
    progress: Progress | None = None,
) -> TrainedModel:
    """Search and evaluate the procedure, then fit it on everything and index the result.
    `previous`: the active model; its tag columns are kept and its procedure (stored config)
    is scored on the same holdout for the paired gate. `progress` hears each stage as it
    starts, with the fraction of this call done."""
    report = progress or ignore_progress
    started = time.time()
    tags = previous.tagspace.tags if previous is not None else None
    ranker: Ranker | None = None
    metrics: dict[str, Any] = {"evaluated": False}
    # Item keywords and declared tags depend on the records only: built once for every
    # tag-space build of this run (search, holdout, cold-item and final fits).
    records = record_tags(snapshot, config.tags, tags)
    if evaluate:
        report("evaluate", 0.0)  # the search runs inside, on the holdout's training part
        active_config = previous.config if previous is not None else None
        metrics, config, ranker = _evaluate(snapshot, config, tags, active_config, records)
    if ranker is None:  # not evaluated, or no holdout: search (and learn the ranker) on all
        report("search", 0.0)
        outcome = search(snapshot, config, tags, records)
        config, ranker = outcome.config, outcome.ranker
        metrics["search"] = outcome.summary(config.eval.k)
    report("fit", 0.8 if evaluate else 0.5)
    metrics["train_seconds"] = round(time.time() - started, 3)
    name = version or time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    model = build_model(snapshot, config, ranker, tags, name, _clean(metrics), report, records)
    report("precompute", 0.95)
    started = time.time()
    model.precomputed = precompute(model, config.serving)
    model.metrics["precompute_seconds"] = round(time.time() - started, 3)
    return model


def _times(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def gate(metrics: dict[str, Any], tolerance: float, k: int = 10) -> tuple[bool, str]:
    """The paired gate on one training run's metrics (all from the same current holdout,
    through the serving path): with an active model, accept unless the candidate's nDCG@k is
    below the active procedure's by more than `tolerance` (relative); the first model must
    beat most-popular. Not evaluated (no holdout): refused; `--force` activates anyway."""
    name = GATE_METRIC_NAME.format(k=k)
    candidate = metrics.get(name)
    if not metrics.get("evaluated") or candidate is None:
        return False, f"refused: candidate has no {name} (not evaluated); use force to activate"
    active = (metrics.get("active") or {}).get(name)
    if active is not None:
        floor = float(active) * (1.0 - tolerance)
        verdict = (
            f"{name} {float(candidate):.4f} vs active procedure {float(active):.4f} on the same "
            f"holdout (floor {floor:.4f})"
        )
        return (
            (True, f"accepted: {verdict}") if candidate >= floor else (False, f"refused: {verdict}")
        )
    popular = (metrics.get("most_popular") or {}).get(name)
    if popular is None:
        return False, f"refused: no most-popular {name} to beat; use force to activate"
    verdict = f"{name} {float(candidate):.4f} vs most popular {float(popular):.4f}"
    if candidate > popular:
        return True, f"accepted (first model): {verdict}"
    return False, f"refused (first model must beat most popular): {verdict}"
