"""Rows of a CSR matrix as plain arrays, for the per-request paths.

A scipy sparse object costs tens of microseconds to build and check, and a recommend call used
to build a dozen; these gathers are a few numpy calls each. Both types hold plain arrays, so an
artifact can store them and every worker memory-map one copy.
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
