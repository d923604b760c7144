"""Typed hyperparameters for every component, and the config digest stored with each model.

Each component owns one section. The digest is a hash of the canonical JSON of the whole
config, so a served artifact says exactly which settings built it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "rating": 3.0,
    "like": 3.0,
    "favorite": 4.0,
    "share": 4.0,
    "comment": 3.0,
    "purchase": 5.0,
}


class EventConfig(_Section):
    """How raw events become confidence: type weight x time decay."""

    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS),
        description="weight of one event of each type (view 1 ... purchase 5)",
    )
    unknown_type_weight: float = Field(
        default=1.0, ge=0, description="weight of an event type missing from `weights`"
    )
    half_life_days: float | None = Field(
        default=90.0,
        gt=0,
        description=(
            "an event's weight halves every this many days of age, age counted back from the "
            "snapshot's newest event (not the wall clock); null switches decay off"
        ),
    )


class LifecycleConfig(_Section):
    """Stage thresholds, in days since the user's first / last event."""

    new_days: float = Field(default=7.0, gt=0, description="first event within this many days: new")
    silent_days: float = Field(
        default=14.0, gt=0, description="no event for this many days: silent"
    )
    churned_days: float = Field(
        default=60.0, gt=0, description="no event for this many days: churned"
    )
    rfm_bands: int = Field(default=5, ge=2, le=10)


class TagConfig(_Section):
    keywords_per_item: int = Field(default=8, ge=0, le=100)
    keyword_weight: float = Field(
        default=0.5, ge=0, description="weight of extracted keywords vs declared"
    )
    behaviour_half_life_days: float = Field(default=60.0, gt=0)
    behaviour_top_tags: int = Field(default=50, ge=1, description="interest tags kept per user")
    predict_min_confidence: float = Field(default=0.6, ge=0, le=1)
    predict_namespaces: tuple[str, ...] = ("age", "gender")
    predict_use_items: bool = Field(
        default=True,
        description="predict from the items a user touched, not only their interest tags",
    )
    predict_use_declared: bool = Field(
        default=True, description="also predict from declared tags outside predict_namespaces"
    )
    predict_c: float = Field(default=1.0, gt=0, description="inverse L2 strength of the classifier")
    predict_max_train: int = Field(
        default=10_000,
        ge=10,
        description="declared users sampled (seeded) to fit the classifier; more rows "
        "cost time and add no accuracy (bench/predict_sampling_bench.py)",
    )
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)


class ALSConfig(_Section):
    """Implicit ALS. The defaults are where the model search starts (matching/search.py)."""

    factors: int = Field(64, ge=2, le=1024, description="latent factors per user and item")
    regularization: float = Field(50.0, ge=0, description="L2 penalty on the factors")
    alpha: float = Field(5.0, gt=0, description="confidence = 1 + alpha * weighted(weight)")
    iterations: int = Field(15, ge=1, le=200, description="ALS sweeps")
    weighting: Literal["linear", "log", "bm25"] = Field(
        "linear",
        description=(
            "how a pair's summed event weight becomes confidence: linear (as is), log "
            "(log1p, damps heavy repeaters), bm25 (implicit's BM25 item weighting)"
        ),
    )
    random_state: int = Field(42, description="seed of the factor initialisation")
    backend: Literal["implicit", "spark"] = Field(
        "implicit",
        description="who fits the factors: implicit on this machine, or Spark MLlib ALS "
        "(implicitPrefs) for interaction data that outgrows one machine (needs the spark extra)",
    )
    spark_master: str = Field(
        "local[2]",
        description="Spark master URL of the spark backend: local[N] runs in this process's JVM; "
        "spark://host:7077, yarn or k8s://… points training at a cluster",
    )
    spark_work_dir: str | None = Field(
        None,
        description="directory the spark backend exchanges Parquet through (confidence triples "
        "out, factors back); on a cluster it must be a path every executor and this process "
        "share; unset: a temporary directory here, enough for local[N]",
    )
    spark_blocks: int = Field(
        4, ge=1, le=10_000, description="Spark ALS user and item blocks (its unit of parallelism)"
    )


class HybridConfig(_Section):
    tag_share: float = Field(
        0.1, ge=0, le=1, description="a: joint = [sqrt(1-a) cf, sqrt(a) tag embedding]"
    )
    tag_dim: int = Field(16, ge=2, le=512)
    ridge_lambda: float = Field(1.0, gt=0, description="ridge penalty of the tags->factors maps")
    ridge_max_features: int = Field(
        8192, ge=1, description="most frequent tags used as ridge features (Gram matrix size)"
    )
    reason_tags: int = Field(3, ge=0, le=20, description="shared tags named per result")


class IndexConfig(_Section):
    exact_max: int = Field(
        50_000,
        ge=1,
        description="exact inner-product search up to this many rows (≈ 6 ms per query at "
        "50k on one thread; 120 ms at 1M, BENCHMARKS.md)",
    )
    large_kind: Literal["hnsw", "ivf_sq8"] = Field(
        "ivf_sq8",
        description="index above exact_max: IVF with 8-bit scalar-quantised codes over the "
        "MIPS-augmented vectors, candidates re-scored exactly (builds in minutes at 1M rows, "
        "recall@1000 0.99 at 1M users: BENCHMARKS.md, issue 16), or HNSW with an "
        "inner-product graph (slow single-thread build; kept for existing configs)",
    )
    ivf_lists: int = Field(
        0, ge=0, description="IVF cells; 0: 4 x sqrt(rows), the FAISS rule of thumb"
    )
    ivf_nprobe: int = Field(
        256,
        ge=1,
        description="IVF cells visited per query (256 of 4 000 at 1M users: recall@1000 0.99)",
    )
    ivf_rerank: float = Field(
        2.0,
        ge=1,
        le=100,
        description="IVF returns this many times n candidates, re-scored exactly from the "
        "vectors; the best n are the answer (SQ8 rounding then only picks the candidates)",
    )
    ivf_train_max: int = Field(
        100_000, ge=1_000, description="rows sampled to train the IVF cells and the quantiser"
    )
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_search: int = Field(128, ge=8)
    hnsw_ef_construction: int = Field(80, ge=8)
    filter_exact_max: int = Field(
        20_000, ge=0, description="a filter allowing at most this many ids is searched exactly"
    )
    build_threads: int = Field(1, ge=1, description="HNSW build threads; >1 is not reproducible")
    exclude_seen: bool = Field(True, description="recommendations leave out items already seen")


class EvalConfig(_Section):
    k: int = Field(10, ge=1)
    holdout_days: float = Field(7.0, gt=0, description="time-based holdout: the last N days")
    holdout_max_fraction: float = Field(0.2, gt=0, lt=1)
    tolerance: float = Field(
        0.02,
        ge=0,
        le=1,
        description=(
            "relative nDCG drop of the candidate against the active model's procedure, both "
            "scored on the same current holdout, still accepted (ALS initialisation noise)"
        ),
    )
    cold_item_fraction: float = Field(
        0.1, ge=0, lt=1, description="items whose events are all held out for the cold-start AUC"
    )
    audience_k: int = Field(100, ge=1, description="cut-off of the cold-item audience recall")
    max_users: int = Field(
        10_000,
        ge=0,
        description=(
            "users scored, at most, in each evaluation: the gate's holdout users and the "
            "search's validation users are a seeded uniform sample of this many (the same "
            "users for the candidate and the active procedure, so the gate stays paired); "
            "0 scores them all. At 1M users scoring all of them takes longer than the fits"
        ),
    )
    max_cold_items: int = Field(
        1_000,
        ge=0,
        description=(
            "cold items, at most, whose audiences are scored for the cold-start recall and "
            "AUC (each ranks every user); a seeded sample of the held-out items; 0 = all"
        ),
    )
    seed: int = 0


class SearchConfig(_Section):
    """The model search each training run does before fitting (matching/search.py)."""

    trials: int = Field(
        30, ge=0, le=10_000, description="trials at most; 0 = no search, the config as given"
    )
    seconds: float = Field(
        20.0, ge=0, description="wall-clock budget of the search; 0 = no time limit"
    )
    seed: int = Field(0, description="seed of the search's sampler: same data, same trials")
    validation: Literal["time", "user_time", "random"] = Field(
        "time",
        description=(
            "how validation is carved from the training part: its newest events (the same "
            "rule as the gate's holdout), each user's newest events, or a seeded random share"
        ),
    )
    validation_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of training events held out for validation"
    )


class RankingConfig(_Section):
    """The ranking stage over retrieved candidates (matching/ranking.py)."""

    enabled: bool = Field(True, description="rescore candidates; off = retrieval order")
    candidates: int = Field(
        100, ge=1, le=5000, description="candidates FAISS retrieves for the ranker per query"
    )
    item_item_candidates: int = Field(
        50,
        ge=0,
        le=5000,
        description="more candidates from the item-to-item scores (EASE or item-kNN), per query",
    )
    ranker_trees: int = Field(
        50,
        ge=1,
        le=2000,
        description="most trees of the learned ranker (early stopping on validation may use fewer)",
    )
    ranker_folds: int = Field(
        2,
        ge=1,
        le=10,
        description=(
            "validation carves the ranker learns from: the search's split, then each next one "
            "carved from the previous one's fitting part"
        ),
    )
    ranker_leaves: int = Field(7, ge=2, le=255, description="leaves per tree of the learned ranker")
    ranker_learning_rate: float = Field(
        0.05, gt=0, le=1, description="learning rate of the learned ranker"
    )
    ease_max_items: int = Field(
        4000,
        ge=0,
        description="EASE (dense item x item) up to this catalogue size; sparse item-kNN above",
    )
    ease_lambda: float = Field(500.0, gt=0, description="EASE's L2 penalty (searched)")
    knn_neighbours: int = Field(
        100,
        ge=1,
        le=5000,
        description="neighbours kept per item by the sparse item-kNN and by the sequence model",
    )
    recent_days: float = Field(
        7.0, gt=0, description="window of the recency feature, back from the newest event"
    )
    sequence_window: int = Field(
        10,
        ge=0,
        le=100,
        description="events after (and, at half weight, before) an item whose items are its "
        "sequence neighbours (matching/sequence.py); 0 = no sequence features",
    )
    sequence_recent: int = Field(
        10,
        ge=1,
        le=1000,
        description="a user's newest items that the 'doing now' sequence score sums over",
    )


class ServingConfig(_Section):
    """Answers computed at training for the per-page-view calls (matching/precomputed.py)."""

    precomputed_items: int = Field(
        50,
        ge=0,
        le=1000,
        description="recommendations stored per warm user at training, through the serving path "
        "(seen items excluded); a call without filters and without events since the snapshot "
        "reads them instead of ranking; 0 switches the stored lists off",
    )
    precomputed_users: int = Field(
        200,
        ge=0,
        le=10_000,
        description="audience stored per item at training (seen users excluded); an audience "
        "call without segment or tag filter reads it; 0 switches the stored lists off",
    )
    precomputed_max_users: int = Field(
        1_000_000,
        ge=0,
        description="users, at most, whose recommendations are stored: warm users, the most "
        "active (longest history) first, then users without events but with declared tags "
        "(their cold start); the others are answered online, at several times the CPU of a "
        "stored answer. Storing costs training about 1 ms of CPU per warm user (less per cold one: "
        "retrieval, no ranking stage) and 400 bytes of artifact per user (at 50 items)",
    )


class ModelConfig(_Section):
    events: EventConfig = Field(default_factory=EventConfig)
    tags: TagConfig = Field(default_factory=TagConfig)
    als: ALSConfig = Field(default_factory=ALSConfig)
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
