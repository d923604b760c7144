"""The plain data the science works on: a snapshot of users, items and events.

The store builds a Snapshot (api/jobs), tests and benchmarks build one in code; nothing
here knows where it came from. Times are epoch seconds (float) throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching.vocabulary import Vocabulary

Attributes = dict[str, str | int | float | bool | None]
SECONDS_PER_DAY = 86_400.0  # the one day: times are epoch seconds, spans are given in days


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    attributes: Attributes = field(default_factory=dict)
    tags: dict[str, float] = field(default_factory=dict)  # declared tags with weights
    push_consent: bool = False


@dataclass(frozen=True, slots=True)
class ItemRecord:
    id: str
    title: str = ""
    text: str = ""
    tags: dict[str, float] = field(default_factory=dict)  # declared tags with weights
    category: str | None = None
    published_at: float | None = None
    expires_at: float | None = None


@dataclass(slots=True)
class EventLog:
    """Events as parallel arrays; user/item are rows of the snapshot's vocabularies."""

    user: np.ndarray  # int32
    item: np.ndarray  # int32
    type_code: np.ndarray  # int16, index into type_names
    value: np.ndarray  # float32 (0 when the event had none)
    ts: np.ndarray  # float64 epoch seconds
    type_names: list[str]

    def __post_init__(self) -> None:
        n = len(self.user)
        for name in ("item", "type_code", "value", "ts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"EventLog.{name} has a different length than EventLog.user")

    def __len__(self) -> int:
        return len(self.user)

    @classmethod
    def empty(cls) -> EventLog:
        return cls(
            user=np.zeros(0, np.int32),
            item=np.zeros(0, np.int32),
            type_code=np.zeros(0, np.int16),
            value=np.zeros(0, np.float32),
            ts=np.zeros(0, np.float64),
            type_names=[],
        )

    @classmethod
    def from_columns(
        cls,
        user: np.ndarray | list[int],
        item: np.ndarray | list[int],
        types: list[str] | np.ndarray,
        ts: np.ndarray | list[float],
        value: np.ndarray | list[float] | None = None,
    ) -> EventLog:
        names, codes = np.unique(np.asarray(types, dtype=object).astype(str), return_inverse=True)
        n = len(codes)
        return cls(
            user=np.asarray(user, dtype=np.int32),
            item=np.asarray(item, dtype=np.int32),
            type_code=codes.astype(np.int16),
            value=np.zeros(n, np.float32) if value is None else np.asarray(value, np.float32),
            ts=np.asarray(ts, dtype=np.float64),
            type_names=[str(x) for x in names],
        )

    def subset(self, mask: np.ndarray) -> EventLog:
        return EventLog(
            user=self.user[mask],
            item=self.item[mask],
            type_code=self.type_code[mask],
            value=self.value[mask],
            ts=self.ts[mask],
            type_names=self.type_names,
        )

    def type_mask(self, type_name: str) -> np.ndarray:
        if type_name not in self.type_names:
            return np.zeros(len(self), dtype=bool)
        return self.type_code == self.type_names.index(type_name)


@dataclass(slots=True)
class Snapshot:
    """Everything one training run sees, frozen at `now`."""

    users: list[UserRecord]
    items: list[ItemRecord]
    events: EventLog
    now: float
    user_vocab: Vocabulary = field(init=False)
    item_vocab: Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.user_vocab = Vocabulary.from_list([u.id for u in self.users])
        self.item_vocab = Vocabulary.from_list([i.id for i in self.items])
        if len(self.events):
            if self.events.user.max() >= len(self.users) or self.events.user.min() < 0:
                raise ValueError("event user row out of range")
            if self.events.item.max() >= len(self.items) or self.events.item.min() < 0:
                raise ValueError("event item row out of range")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)
