"""Item-to-item models of the ranking stage and the baselines: EASE and sparse cosine kNN."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender, normalize


def fit_ease(interactions: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE's item x item weights B (zero diagonal) from binary interactions, float32."""
    return ease_from_gram(ease_gram(interactions), lam)


def ease_gram(interactions: sp.csr_matrix) -> np.ndarray:
    """XᵀX of the binary interactions (float64): shared by every penalty tried."""
    binary = sp.csr_matrix(interactions, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    return np.asarray((binary.T @ binary).toarray())


def ease_from_gram(gram: np.ndarray, lam: float) -> np.ndarray:
    penalised = gram.copy()
    penalised[np.diag_indices_from(penalised)] += lam
    inverse = np.linalg.inv(penalised)
    weights = -inverse / np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


def fit_item_knn(interactions: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """Sparse cosine item x item similarity, `neighbours` per item, no self-similarity."""
    binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    binary.sort_indices()
    # CosineRecommender's own fit, with the normalised matrix handed over as CSR
    model = ItemItemRecommender(K=neighbours + 1, num_threads=1)
    model.fit(sp.csr_matrix(normalize(binary.T).T), show_progress=False)
    similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    similarity.sort_indices()
    return similarity
