"""Row-wise kernels on CSR matrices, the tag space's building blocks: unit rows, the k
largest entries of each row, rows widened to a grown vocabulary.

Written for a million rows: no per-entry Python, no copy that is not needed (the profiles of
the training run's tag space at 1M users, BENCHMARKS.md issue 16, put these first).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_NORMALIZE_BLOCK_ROWS = 1 << 15  # rows per block: ~1M entries of tag rows, ~12 MB temporaries


def l2_normalize_rows(matrix: sp.csr_matrix, *, in_place: bool = False) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty); a float32 CSR.

    Norms are float64 sums of squares in each row's stored order (scipy's CSR product with a
    vector of ones, which adds them in that order as a per-entry bincount did, so equal to the
    bit), cast to float32 and divided into the row's entries. No per-entry row index or
    float64 divisor is built: at a million users those copies were most of the cost. Rows go
    in blocks of _NORMALIZE_BLOCK_ROWS, so the float64 squares and the repeated divisors stay
    small (a row's norm is its own: the blocks change no bit).

    in_place: when `matrix` is a float32 CSR, scale its own data, which the result shares (for
    a temporary of the caller's, such as a sum: no copy of a million rows)."""
    m = sp.csr_matrix(matrix, dtype=np.float32, copy=not in_place)
    counts = np.diff(m.indptr)
    ones = np.ones(m.shape[1])
    for start in range(0, m.shape[0] if m.nnz else 0, _NORMALIZE_BLOCK_ROWS):
        stop = min(start + _NORMALIZE_BLOCK_ROWS, m.shape[0])
        lo, hi = m.indptr[start], m.indptr[stop]
        squares = m.data[lo:hi].astype(np.float64)
        np.square(squares, out=squares)
        block = sp.csr_matrix(
            (squares, m.indices[lo:hi], m.indptr[start : stop + 1] - lo),
            shape=(stop - start, m.shape[1]),
        )
        divisor = np.maximum(np.sqrt(block @ ones), 1e-12).astype(np.float32)
        m.data[lo:hi] /= np.repeat(divisor, counts[start:stop])
    return m


def _descending_key(values: np.ndarray) -> np.ndarray:
    """uint32 keys whose ascending order is the descending order of float32 `values`
    (IEEE bits, sign-flipped: order-preserving for every non-NaN value; -0.0 counts as 0.0)."""
    bits = (values.astype(np.float32) + np.float32(0.0)).view(np.uint32)  # -0.0 + 0.0 = 0.0
    negative = bits >> 31 == 1
    ascending = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    return ~ascending


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row (ties: lower column first; no NaN values).

    Only rows longer than k are sorted. For float32 values by one stable sort of a 64-bit key
    (row in the high half, the value's descending order in the low half), half the work of
    lexsort's two stable passes by (row, -value) and the same order: equal keys keep
    sum_duplicates' ascending columns, so ties go to the lower column."""
    m = sp.csr_matrix(matrix)
    m.sum_duplicates()
    counts = np.diff(m.indptr)
    long = counts > k
    if not long.any():
        return m
    long_rows = np.flatnonzero(long)
    long_counts = counts[long_rows]
    # entries of the long rows, row by row (rows are contiguous in CSR)
    starts = np.concatenate(([0], np.cumsum(long_counts)[:-1]))
    entries = np.repeat(m.indptr[long_rows] - starts, long_counts) + np.arange(
        starts[-1] + long_counts[-1]
    )
    values = m.data[entries]
    row_of = np.repeat(np.arange(len(long_rows), dtype=np.uint64), long_counts)
    if values.dtype.kind == "f" and values.dtype.itemsize <= 4:
        key = row_of << np.uint64(32) | _descending_key(values).astype(np.uint64)
        order = entries[np.argsort(key, kind="stable")]
    else:  # a float64 value needs all 64 bits of the key
        order = entries[np.lexsort((-values, row_of))]
    rank = np.arange(len(entries)) - np.repeat(starts, long_counts)
    keep = np.ones(m.nnz, bool)
    keep[entries] = False
    keep[order[rank < k]] = True
    indptr = np.concatenate(([0], np.cumsum(np.minimum(counts, k))))
    return sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)


def widen(matrix: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    """The same rows with more (empty) trailing columns: the tag vocabulary grew."""
    m = sp.csr_matrix(matrix, dtype=np.float32)
    return sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_cols))
