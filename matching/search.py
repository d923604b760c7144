"""Model search: the settings of a training run found on its own data, within a budget.

Settings tuned once on one data set do not carry to another (a 90-day half-life erases a data
set whose events span years; ml-100k wants strong regularisation, sparser data does not), so
every training run searches. The search:

* carves a validation split out of the data it is given, which in a training run is the
  *training part* of the time holdout, never the gate's test part: by time (the newest events,
  the gate's own rule one step earlier), "user_time" (each user's newest events) or
  "random" (a seeded share), per SearchConfig.validation;
* builds the tag space of the fitting part once (no searched setting changes it);
* runs optuna's TPE sampler (seeded) over ALS factors, regularization, alpha, iterations, the
  confidence weighting (linear, log, bm25), the decay half-life including "off", tag_share,
  tag_dim and the ridge penalty; the given config is always trial 0, so the result is never
  worse on validation than what was asked for;
* scores each trial on (at most EvalConfig.max_users, a seeded sample of) the validation users
  by the validation nDCG@k of its retrieval (the joint vectors' top k, seen items excluded:
  what FAISS serves before the ranking stage);
* stops after SearchConfig.trials trials or SearchConfig.seconds, whichever comes first;
* then, on the chosen settings: picks EASE's penalty by EASE's own validation nDCG, and learns
  the ranking stage's ranker on validation folds (matching/ranking_fit.py). Neither is part
  of the seconds budget. With trials = 0 the config is used as given (the ranker is still
  learned: it is part of the procedure, not a setting).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from matching.als import confidence_matrix, decay_reference, interaction_matrix
from matching.base import TrainingData, mask_rows, top_n
from matching.config import ModelConfig
from matching.data import Snapshot
from matching.evaluate import (
    ndcg_per_row,
    per_user_time_split,
    random_split,
    sample_rows,
    time_holdout,
)
from matching.item_item import ease_from_gram, ease_gram
from matching.ranking import (
    RETRIEVAL_ONLY,
    Ranker,
    RankingStage,
    gather,
    retrieve_exact,
)
from matching.ranking_fit import Fold, LearnedRanker, learn_ranker
from matching.recommenders import Hybrid
from matching.sequence import items_newest_first
from matching.tagspace import RecordTags, TagSpace, build_tagspace
from matching.vocabulary import Vocabulary

log = logging.getLogger("tagmatch.search")

TAG_DIMS = (8, 16, 32, 64)
WEIGHTINGS = ("linear", "log", "bm25")


def restrict(snapshot: Snapshot, mask: np.ndarray) -> Snapshot:
    """The snapshot with only the events in `mask` (users and items unchanged)."""
    events = snapshot.events.subset(mask)
    now = decay_reference(events, snapshot.now)  # its newest event, never a future-dated one
    return Snapshot(users=snapshot.users, items=snapshot.items, events=events, now=now)


def validation_split(snapshot: Snapshot, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(fit_mask, validation_mask) over the snapshot's events."""
    search = config.search
    if search.validation == "user_time":
        return per_user_time_split(snapshot.events, search.validation_fraction)
    if search.validation == "random":
        fit, held = random_split(len(snapshot.events), search.validation_fraction, search.seed)
        users_with_history = np.zeros(snapshot.n_users, bool)
        users_with_history[snapshot.events.user[fit]] = True
        return fit, held & users_with_history[snapshot.events.user]
    rule = config.eval.model_copy(update={"holdout_max_fraction": search.validation_fraction})
    return time_holdout(snapshot.events, rule)


@dataclass(slots=True)
class Validation:
    """The fitting part, its tag space, and the validation truth of the users scored."""

    fit: Snapshot
    tagspace: TagSpace
    users: np.ndarray  # rows with validation events and fitting history
    seen: sp.csr_matrix  # (len(users), n_items) fitting-part interactions: excluded, history
    truth: sp.csr_matrix  # (len(users), n_items) validation interactions


def prepare(
    snapshot: Snapshot,
    config: ModelConfig,
    tags: Vocabulary | None = None,
    records: RecordTags | None = None,
) -> Validation | None:
    """None when the data is too small to hold anything out."""
    fit_mask, val_mask = validation_split(snapshot, config)
    if not fit_mask.any() or not val_mask.any():
        return None
    fit = restrict(snapshot, fit_mask)
    truth = interaction_matrix(snapshot.events.subset(val_mask), snapshot.n_users, snapshot.n_items)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    users = sample_rows(users, config.eval.max_users, config.eval.seed)
    seen = interaction_matrix(fit.events, snapshot.n_users, snapshot.n_items)
    tagspace = build_tagspace(fit, config.tags, config.events, tags, records)
    return Validation(fit, tagspace, users, seen[users], truth[users])


def fit_trial(validation: Validation, config: ModelConfig) -> Hybrid:
    """The hybrid model of one config on the fitting part."""
    fit = validation.fit
    reference = decay_reference(fit.events, fit.now)
    confidence = confidence_matrix(fit.events, fit.n_users, fit.n_items, config.events, reference)
    return Hybrid(config.als, config.hybrid).fit(TrainingData(confidence, validation.tagspace))


def score(validation: Validation, config: ModelConfig) -> float:
    """Validation nDCG@k of one config's retrieval (the joint vectors' top k, seen items
    excluded): what the search maximises. The ranker is learned once, on the chosen config
    (learn_stage): learning it per trial would cost more than the ALS fit it rescored."""
    model = fit_trial(validation, config)
    queries = model.user_vectors[validation.users]
    top, _ = retrieve_exact(queries, model.item_vectors, validation.seen, config.eval.k)
    return float(ndcg_per_row(top, validation.truth).mean())


EASE_LAMBDAS = (10.0, 30.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)


def choose_ease_lambda(validation: Validation, config: ModelConfig) -> float:
    """EASE's penalty with the best validation nDCG@k of EASE's own order (one Gram matrix
    for every penalty tried; the given one is always among them)."""
    fit = validation.fit
    if fit.n_items > config.ranking.ease_max_items:
        return config.ranking.ease_lambda  # item-kNN serves: the penalty is unused
    gram = ease_gram(interaction_matrix(fit.events, fit.n_users, fit.n_items))
    history = sp.csr_matrix(validation.seen, dtype=np.float32)
    history.data[:] = 1.0

    def ndcg(lam: float) -> float:
        scores = np.asarray(history @ ease_from_gram(gram, lam), dtype=np.float32)
        mask_rows(scores, history)
        return float(ndcg_per_row(top_n(scores, config.eval.k)[0], validation.truth).mean())

    with threadpool_limits(1, "blas"):
        candidates = sorted({*EASE_LAMBDAS, config.ranking.ease_lambda})
        return max(candidates, key=ndcg)


def learn_stage(
    validation: Validation,
    config: ModelConfig,
    tags: Vocabulary | None = None,
    records: RecordTags | None = None,
) -> LearnedRanker:
    """The ranker of `config`'s procedure, learned on validation folds (fold 0 the search's
    split, each next one carved from the previous one's fitting part, matching/ranking_fit.py);
    retrieval order when ranking is off."""
    if not config.ranking.enabled:
        return LearnedRanker(Ranker(RETRIEVAL_ONLY.copy()), "retrieval")
    folds: list[Fold] = []
    stage: RankingStage | None = None
    current: Validation | None = validation
    while current is not None and len(current.users) and len(folds) < config.ranking.ranker_folds:
        fold_stage, fold = _fold(current, config)
        stage = stage or fold_stage
        folds.append(fold)
        current = prepare(current.fit, config, tags, records)
    assert stage is not None
    return learn_ranker(stage, folds, config.ranking, config.eval.k, config.search.seed)


def _fold(validation: Validation, config: ModelConfig) -> tuple[RankingStage, Fold]:
    """Fit the procedure on a validation's fitting part; its users' candidates and features."""
    fit = validation.fit
    model = fit_trial(validation, config)
    queries = model.user_vectors[validation.users]
    width = max(config.ranking.candidates, config.eval.k)
    retrieved, _ = retrieve_exact(queries, model.item_vectors, validation.seen, width)
    stage = RankingStage.fit(
        interaction_matrix(fit.events, fit.n_users, fit.n_items), fit.events, config.ranking
    )
    newest = items_newest_first(fit.events, fit.n_users)
    history = [newest.row(int(user)) for user in validation.users]
    found = gather(
        stage,
        queries,
        model.item_vectors,
        model.space.n_factors,
        history,
        retrieved,
        excluded=validation.seen,
    )
    return stage, Fold(validation.users, found, validation.truth)


def suggest(trial: optuna.Trial, given: ModelConfig) -> dict[str, Any]:
    """One point of the search space (flat names: section.field). Each range is widened to
    include the given config's value, which is enqueued as trial 0."""
    start = params_of(given)

    def real(name: str, low: float, high: float) -> float:
        value = start.get(name, low)
        return trial.suggest_float(name, min(low, value), max(high, value), log=True)

    def whole(name: str, low: int, high: int, log: bool = False) -> int:
        value = start[name]
        return trial.suggest_int(name, min(low, value), max(high, value), log=log)

    params: dict[str, Any] = {
        "als.factors": whole("als.factors", 16, 192, log=True),
        "als.regularization": real("als.regularization", 0.01, 300.0),
        "als.alpha": real("als.alpha", 0.1, 50.0),
        "als.iterations": whole("als.iterations", 5, 30),
        "als.weighting": trial.suggest_categorical("als.weighting", WEIGHTINGS),
        "decay": trial.suggest_categorical("decay", ("on", "off")),
        "hybrid.tag_share": trial.suggest_float(
            "hybrid.tag_share", 0.0, max(0.5, start["hybrid.tag_share"])
        ),
        "hybrid.tag_dim": trial.suggest_categorical(
            "hybrid.tag_dim", tuple(sorted({*TAG_DIMS, start["hybrid.tag_dim"]}))
        ),
        "hybrid.ridge_lambda": real("hybrid.ridge_lambda", 0.1, 1000.0),
    }
    if params["decay"] == "on":
        params["events.half_life_days"] = real("events.half_life_days", 3.0, 1000.0)
    return params


def params_of(config: ModelConfig) -> dict[str, Any]:
    """The search-space coordinates of a config (to enqueue it as trial 0)."""
    params: dict[str, Any] = {
        "als.factors": config.als.factors,
        "als.regularization": config.als.regularization,
        "als.alpha": config.als.alpha,
        "als.iterations": config.als.iterations,
        "als.weighting": config.als.weighting,
        "decay": "off" if config.events.half_life_days is None else "on",
        "hybrid.tag_share": config.hybrid.tag_share,
        "hybrid.tag_dim": config.hybrid.tag_dim,
        "hybrid.ridge_lambda": config.hybrid.ridge_lambda,
    }
    if config.events.half_life_days is not None:
        params["events.half_life_days"] = config.events.half_life_days
    return params


def apply(config: ModelConfig, params: dict[str, Any]) -> ModelConfig:
    """config with the searched fields replaced; validated like a config file."""
    sections: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if name == "decay":
            if value == "off":
                sections.setdefault("events", {})["half_life_days"] = None
            continue
        section, field_name = name.split(".", 1)
        sections.setdefault(section, {})[field_name] = value
    data = config.model_dump()
    for section, values in sections.items():
        data[section].update(values)
    return ModelConfig.model_validate(data)


@dataclass(slots=True)
class SearchOutcome:
    config: ModelConfig  # the chosen settings (the given ones when nothing was searched)
    ranker: Ranker  # the ranking stage's ranker, learned on validation
    validation_ndcg: float | None  # the chosen config's retrieval on validation
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    ranking: dict[str, Any] = field(default_factory=dict)  # LearnedRanker.summary()

    def summary(self, k: int) -> dict[str, Any]:
        """What is stored with the model version and printed by `tagmatch train`."""
        return {
            "trials": len(self.trials),
            "seconds": round(self.seconds, 2),
            f"validation_ndcg@{k}": self.validation_ndcg,
            "chosen": {
                **params_of(self.config),
                "ranking.ease_lambda": self.config.ranking.ease_lambda,
            },
            "ranking": self.ranking,
            "ranking_weights": self.ranking.get("weights", {}),
            "trial_scores": self.trials,
        }


def search(
    snapshot: Snapshot,
    config: ModelConfig,
    tags: Vocabulary | None = None,
    records: RecordTags | None = None,
) -> SearchOutcome:
    """Search within config.search's budget, then learn the ranker (module docstring).
    `records`: the run's record tags (tagspace.record_tags), shared by its tag-space builds."""
    started = time.monotonic()
    validation = prepare(snapshot, config, tags, records)
    if validation is None or len(validation.users) == 0:
        return SearchOutcome(config, Ranker(RETRIEVAL_ONLY.copy()), None)
    trials: list[dict[str, Any]] = []
    if config.search.trials == 0:
        ndcg = score(validation, config)
    else:
        config, ndcg, trials = _optimise(validation, config, started)
        if config.ranking.enabled:
            lam = choose_ease_lambda(validation, config)
            config = config.model_copy(
                update={"ranking": config.ranking.model_copy(update={"ease_lambda": lam})}
            )
    learned = learn_stage(validation, config, tags, records)
    return SearchOutcome(
        config, learned.ranker, ndcg, trials, time.monotonic() - started, learned.summary()
    )


def _optimise(
    validation: Validation, config: ModelConfig, started: float
) -> tuple[ModelConfig, float, list[dict[str, Any]]]:
    """optuna over the search space: (chosen config, its validation nDCG, every trial)."""

    def objective(trial: optuna.Trial) -> float:
        trial_started = time.monotonic()
        ndcg = score(validation, apply(config, suggest(trial, config)))
        trial.set_user_attr("seconds", round(time.monotonic() - trial_started, 3))
        return ndcg

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.search.seed)
    )
    study.enqueue_trial(params_of(config), skip_if_exists=True)
    remaining = config.search.seconds - (time.monotonic() - started)
    study.optimize(
        objective,
        n_trials=config.search.trials,
        timeout=max(remaining, 1e-3) if config.search.seconds > 0 else None,
        catch=(np.linalg.LinAlgError, ValueError),
    )
    k = config.eval.k
    trials = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            f"ndcg@{k}": t.value,
            "seconds": t.user_attrs.get("seconds"),
            "params": t.params,
        }
        for t in study.trials
    ]
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise RuntimeError("model search: no trial completed")
    best = max(completed, key=lambda t: (t.value, -t.number))
    log.info("model search chose trial %d of %d: %s", best.number, len(trials), best.params)
    return apply(config, best.params), float(best.value or 0.0), trials
