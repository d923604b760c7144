"""External id <-> dense row index, stable across retrains.

A retrain extends the previous vocabulary instead of renumbering, so rows of ids that
survive keep their position. An unknown id is a normal answer (None / -1): cold start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np


class Vocabulary:
    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self.extend(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._ids == other._ids

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids)"

    @property
    def ids(self) -> Sequence[str]:
        return self._ids

    def add(self, external_id: str) -> int:
        row = self._index.get(external_id)
        if row is None:
            row = len(self._ids)
            self._ids.append(external_id)
            self._index[external_id] = row
        return row

    def extend(self, ids: Iterable[str]) -> None:
        for external_id in ids:
            self.add(external_id)

    def index(self, external_id: str) -> int | None:
        """Row of an id, or None when unknown."""
        return self._index.get(external_id)

    def indices(self, ids: Iterable[str]) -> np.ndarray:
        """Rows of many ids; -1 for unknown ones."""
        get = self._index.get
        return np.fromiter((get(i, -1) for i in ids), dtype=np.int64)

    def id(self, row: int) -> str:
        return self._ids[row]

    def lookup(self, rows: Iterable[int]) -> list[str]:
        ids = self._ids
        return [ids[int(r)] for r in rows]

    def to_list(self) -> list[str]:
        return list(self._ids)

    @classmethod
    def from_list(cls, ids: Sequence[str]) -> Vocabulary:
        vocab = cls(ids)
        if len(vocab) != len(ids):
            raise ValueError("duplicate ids in vocabulary")
        return vocab
