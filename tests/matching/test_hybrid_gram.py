"""The tag Gram product of the hybrid's tag components, in dense row blocks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import matching.hybrid as hybrid


def test_the_blocked_gram_is_the_sparse_product(monkeypatch):
    rng = np.random.default_rng(3)
    filled = sp.random(1000, 37, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    matrix = sp.vstack([filled[:5], sp.csr_matrix((1, 37), dtype=np.float32), filled[5:]], "csr")
    monkeypatch.setattr(hybrid, "_GRAM_BLOCK_ENTRIES", 37 * 64)  # 16 blocks, the last partial
    gram = hybrid._gram(matrix)
    exact = (matrix.astype(np.float64).T @ matrix.astype(np.float64)).toarray()
    assert gram.dtype == np.float64 and gram.shape == (37, 37)
    np.testing.assert_allclose(gram, exact, rtol=1e-12, atol=1e-12)


def test_tag_components_are_those_of_the_stacked_scaled_blocks():
    rng = np.random.default_rng(4)
    items = sp.random(300, 40, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    users = sp.random(5000, 40, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    components = hybrid.fit_tag_components(items, users, 8)
    filled = [int((np.diff(b.indptr) > 0).sum()) for b in (items, users)]
    stacked = sp.vstack([b / np.sqrt(n) for b, n in zip((items, users), filled, strict=True)])
    values, vectors = np.linalg.eigh((stacked.T @ stacked).toarray())
    top = vectors[:, np.argsort(values)[::-1][:8]]
    assert components.shape == (40, 8)
    np.testing.assert_allclose(components @ components.T, top @ top.T, atol=1e-5)
