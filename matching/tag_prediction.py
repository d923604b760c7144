"""Predicted tags: the age band, gender, ... of users who did not declare them (DESIGN.md,
"The tag space"), from what they did declare and what they consumed.

One multinomial logistic regression per namespace in `TagConfig.predict_namespaces`, fitted on
a seeded sample of the users who declared it (`predict_max_train` of them): a handful of
classes over sparse tag and item features, where past some ten thousand rows more rows only
cost time (bench/predict_sampling_bench.py measures where). Features are only built for the
rows that are fitted or predicted, and only the columns the sample uses are fitted.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from matching.config import TagConfig
from matching.csr_rows import l2_normalize_rows
from matching.vocabulary import Vocabulary

PREDICT_SEED = 0  # the training sample's seed: the same snapshot always gives the same tags


def row_argmax(matrix: sp.csr_matrix) -> np.ndarray:
    """Per row, the column of its largest stored value (ties: the lower column); -1 for a row
    with no stored value. Vectorised: scipy's argmax(axis=1) loops over rows in Python."""
    m = sp.csr_matrix(matrix)
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((m.indices, -m.data, rows))
    out = np.full(m.shape[0], -1, np.int64)
    filled = counts > 0
    # rows are lexsort's last key, so each row's entries stay at its indptr range
    out[filled] = m.indices[order[m.indptr[:-1][filled]]]
    return out


def namespace_columns(vocab: Vocabulary, n_cols: int) -> np.ndarray:
    """The namespace (text before the first ':') of each of the first n_cols tag columns."""
    return np.array([tag.split(":", 1)[0] for tag in vocab.ids[:n_cols]] or [""], dtype=object)


class PredictionFeatures:
    """The classifier's features, built only for the rows asked for: interest tags (+ touched
    items, L2-normalised, + declared tags outside the predicted namespaces)."""

    def __init__(
        self,
        declared: sp.csr_matrix,
        behavioural: sp.csr_matrix,
        interactions: sp.csr_matrix,
        ns_of: np.ndarray,
        config: TagConfig,
    ) -> None:
        self.parts = [sp.csr_matrix(behavioural)]
        if config.predict_use_items:
            self.parts.append(sp.csr_matrix(interactions))
        if config.predict_use_declared:
            other = np.flatnonzero(~np.isin(ns_of[: declared.shape[1]], config.predict_namespaces))
            self.parts.append(sp.csr_matrix(declared[:, other]))
        self.use_items = config.predict_use_items
        # stored entries, as scipy's getnnz counts them
        self.has_any = np.logical_or.reduce([np.diff(p.indptr) > 0 for p in self.parts])

    def rows(self, rows: np.ndarray) -> sp.csr_matrix:
        parts = [part[rows] for part in self.parts]
        if self.use_items:
            parts[1] = l2_normalize_rows(parts[1])  # row-wise: the same as normalising all
        return sp.hstack(parts, format="csr")


def training_sample(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` of `rows` drawn uniformly without replacement, sorted; all of them if fewer."""
    if len(rows) <= size:
        return rows
    return np.sort(rng.choice(rows, size, replace=False))


def predict_tags(
    declared: sp.csr_matrix,
    behavioural: sp.csr_matrix,
    interactions: sp.csr_matrix,
    vocab: Vocabulary,
    config: TagConfig,
) -> sp.csr_matrix:
    """For each namespace in predict_namespaces, the tag of users who did not declare one.

    A multinomial logistic regression fitted on (a sample of) the users who declared it,
    over their interest tags (+ touched items, + other declared tags); confidence = its
    probability. Users with nothing to go on get no prediction rather than the majority class.
    """
    # imported here: serving processes load this module but never fit a classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    ns_of = namespace_columns(vocab, declared.shape[1])
    features = PredictionFeatures(declared, behavioural, interactions, ns_of, config)
    has_features = features.has_any
    rng = np.random.default_rng(PREDICT_SEED)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for namespace in config.predict_namespaces:
        ns_cols = np.flatnonzero(ns_of[: declared.shape[1]] == namespace)
        if len(ns_cols) < 2:
            continue
        best = row_argmax(declared[:, ns_cols])
        declared_it = best >= 0
        label = ns_cols[np.maximum(best, 0)]
        train = np.flatnonzero(declared_it & has_features)
        target = np.flatnonzero(~declared_it & has_features)
        if len(target) == 0 or len(np.unique(label[train])) < 2:
            continue
        train = training_sample(train, config.predict_max_train, rng)
        x = features.rows(train)
        # Only the columns the sample uses: an L2-penalised weight whose column is empty in
        # every training row stays 0 from lbfgs's start at 0, so it changes no probability,
        # yet every iteration would pay for it (100k item columns at 1M users x 100k items).
        used = np.unique(x.indices)
        model = LogisticRegression(C=config.predict_c, max_iter=200)
        with warnings.catch_warnings():
            # lbfgs stopping a little early still ranks classes well; not worth the noise.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[:, used], label[train])
        proba = model.predict_proba(features.rows(target)[:, used])
        top = proba.argmax(axis=1)
        confidence = proba[np.arange(len(target)), top]
        keep = confidence >= config.predict_min_confidence
        rows.append(target[keep])
        cols.append(model.classes_[top[keep]])
        vals.append(confidence[keep].astype(np.float32))
    if not rows:
        return sp.csr_matrix(declared.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=declared.shape
    )
