"""Rows of a CSR matrix as plain arrays, for the per-request paths.

A scipy sparse object costs tens of microseconds to build and check, and a recommend call
used to build a dozen; these gathers, sums and look-ups are a few numpy calls each. Both
types hold plain arrays, so an artifact can store them and every worker memory-map one copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, slots=True)
class RowLists:
    """A CSR matrix's structure without its values: for each row, the columns it holds."""

    indptr: np.ndarray  # (n_rows + 1,)
    indices: np.ndarray  # (nnz,) columns, sorted within each row

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> RowLists:
        return cls(matrix.indptr, matrix.indices)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, row: int) -> np.ndarray:
        return self.indices[self.indptr[row] : self.indptr[row + 1]]


@dataclass(frozen=True, slots=True)
class SparseRows:
    """Some rows of a CSR matrix: row i holds columns indices[indptr[i]:indptr[i+1]] with
    weights data[...] (columns sorted within a row when the source's were)."""

    indptr: np.ndarray  # (n_rows + 1,) int64
    indices: np.ndarray  # (nnz,)
    data: np.ndarray  # (nnz,)

    @classmethod
    def take(cls, matrix: sp.csr_matrix | sp.csr_array, rows: np.ndarray) -> SparseRows:
        """Rows `rows` of `matrix`, in that order (repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = np.asarray(matrix.indptr[rows], dtype=np.int64)
        lengths = np.asarray(matrix.indptr[rows + 1], dtype=np.int64) - starts
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        positions = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return cls(
            indptr, np.asarray(matrix.indices)[positions], np.asarray(matrix.data)[positions]
        )

    @classmethod
    def one(cls, matrix: sp.csr_matrix | sp.csr_array, row: int) -> SparseRows:
        """take(matrix, [row]) without its gathers: views of the row's entries."""
        start, end = int(matrix.indptr[row]), int(matrix.indptr[row + 1])
        indptr = np.array([0, end - start], np.int64)
        return cls(
            indptr, np.asarray(matrix.indices[start:end]), np.asarray(matrix.data[start:end])
        )

    @classmethod
    def of(cls, matrix: sp.csr_matrix | sp.csr_array) -> SparseRows:
        """Every row of `matrix`."""
        return cls(
            np.asarray(matrix.indptr, dtype=np.int64),
            np.asarray(matrix.indices),
            np.asarray(matrix.data),
        )

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of one row."""
        start, end = self.indptr[row], self.indptr[row + 1]
        return self.indices[start:end], self.data[start:end]

    def to_csr(self, n_columns: int) -> sp.csr_matrix:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(len(self), n_columns))


def valid_rows(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """The entries of `rows` that index a row of an n_rows matrix, as int64 (a model's
    history may name rows it does not have)."""
    rows = np.asarray(rows, np.int64)
    return rows[(rows >= 0) & (rows < n_rows)]


def summed_rows(matrix: sp.csr_matrix, groups: list[np.ndarray]) -> SparseRows:
    """Per group of row indices (valid rows of `matrix`, repeats counted once), the sum of
    those rows: the product of the 0/1 group-by-row matrix with `matrix` exactly as scipy
    computes it (csr_matmat), to the bit and in its entry order: each column's sum in
    ascending row order, in the product's dtype, entries in reverse order of first reach,
    zero sums left out. A few numpy calls per group: for one group (a serving request), the
    scipy matrices' construction and checks cost more than the product (issue 16)."""
    dtype = np.result_type(np.float32, matrix.dtype)
    indptr = np.zeros(len(groups) + 1, np.int64)
    columns, sums = [], []
    for row, group in enumerate(groups):
        reach = SparseRows.take(matrix, np.unique(group))
        found, first, where = np.unique(reach.indices, return_index=True, return_inverse=True)
        total = np.zeros(len(found), dtype)
        np.add.at(total, where, reach.data)  # one by one in entry order, as csr_matmat adds
        reached_first = np.zeros(len(where), bool)
        reached_first[first] = True
        order = where[np.flatnonzero(reached_first)[::-1]]  # latest first reach first
        order = order[total[order] != 0]
        columns.append(found[order])
        sums.append(total[order])
        indptr[row + 1] = indptr[row] + len(order)
    return SparseRows(
        indptr,
        np.concatenate(columns) if columns else np.zeros(0, np.int64),
        np.concatenate(sums) if sums else np.zeros(0, dtype),
    )


def member(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """np.isin(values, rows) for integer arrays by one sort and a binary search: isin's own
    work on a few hundred values is mostly fixed overhead."""
    if len(rows) == 0 or len(values) == 0:
        return np.zeros(len(values), bool)
    ordered = np.sort(rows)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return np.asarray(ordered[at] == values)


def lookup(columns: np.ndarray, values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """A sparse row's (columns, values) (each column once) read at `keys`, 0 where absent:
    what scipy's fancy indexing of the row gives, without building the matrix."""
    if len(columns) == 0:
        return np.zeros(len(keys), values.dtype)
    order = np.argsort(columns)
    ordered = columns[order]
    at = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
    return np.where(ordered[at] == keys, values[order[at]], values.dtype.type(0))


def unit_row(values: np.ndarray) -> np.ndarray:
    """One row's weights scaled to unit L2 norm as float32: csr_rows.l2_normalize_rows on a
    single row, to the bit (float64 squares summed in stored order, the norm cast to float32),
    without its sparse matrices."""
    values = np.asarray(values, np.float32)
    total = 0.0
    for square in np.square(values.astype(np.float64)).tolist():  # in order, as scipy sums
        total += square
    return values / np.float32(max(np.sqrt(total), 1e-12))


def row_product(columns: np.ndarray, values: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """One sparse row (columns, values) times a dense matrix, (dense.shape[1],): what scipy's
    CSR product gives, to the bit (each entry's scaled dense row added in stored order, in the
    result's dtype), without the tens of microseconds of building a sparse matrix."""
    values = np.asarray(values)
    out = np.zeros(dense.shape[1], np.result_type(values.dtype, dense.dtype))
    for position, column in enumerate(np.asarray(columns).tolist()):
        out += values[position] * dense[column]
    return out
