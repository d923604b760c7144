"""Per-model answers that do not change while the model serves: masks of users and items
carrying a tag, and segment member masks per rule revision. Bounded, so a client sending
many distinct tags cannot grow a process without limit."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

from matching.model import TrainedModel
from matching.segments import SegmentContext, evaluate, parse_rule

T = TypeVar("T")
MAX_ENTRIES = 256


class _Lru:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]  # type: ignore[return-value]
        value = build()  # outside the lock: two threads may both build; the results agree
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


class ModelCaches:
    def __init__(self, model: TrainedModel) -> None:
        self.model = model
        self._lru = _Lru()
        self._context: SegmentContext | None = None

    def segment_context(self) -> SegmentContext:
        """Windows such as events(days=30) count back from the model's snapshot."""
        if self._context is None:
            model = self.model
            self._context = SegmentContext.build(model.tagspace, model.events, model.snapshot_time)
        return self._context

    def items_with_tag(self, tag: str) -> np.ndarray:
        return self._lru.get(("items-tag", tag), lambda: self.model.items_with_tag(tag))

    def items_in_category(self, category: str) -> np.ndarray:
        return self._lru.get(
            ("items-cat", category), lambda: self.model.items_in_category(category)
        )

    def users_with_tag(self, tag: str) -> np.ndarray:
        """Mask of the model's users carrying `tag` from any source."""

        def build() -> np.ndarray:
            ts = self.model.tagspace
            has = np.zeros(len(self.model.users), dtype=bool)
            column = ts.tags.index(tag)
            if column is None:
                return has
            for matrix in (
                ts.user_declared,
                ts.user_behavioural,
                ts.user_predicted,
                ts.user_system,
            ):
                has[matrix.tocsc()[:, column].nonzero()[0]] = True
            return has

        return self._lru.get(("users-tag", tag), build)

    def segment_mask(self, name: str, revision: str, rule: str) -> np.ndarray:
        """A segment's members among the model's users, evaluated once per rule revision."""
        return self._lru.get(
            ("segment", name, revision),
            lambda: evaluate(parse_rule(rule), self.segment_context()),
        )
