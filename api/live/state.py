"""The live state beside one model: what changed in the store since the model's snapshot.

A serving process answers from the model plus this state, never from per-request store reads.
`poll()` advances it by watermark (api.store.freshness): a steady state reads nothing, a bulk
change is read once (and re-read while it may still be joined by late commits, `margin`).
Request threads only read; one poller thread writes, under `_poll_lock`. Every structure is
replaced or mutated by single operations, so a reader sees the state before or after a
change, never a torn one.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from api.pseudonyms import person_ref
from api.store import freshness
from api.store.freshness import EventRow, ItemChange, UserChange
from matching.erasure import tombstoned_rows
from matching.model import TrainedModel

log = logging.getLogger("tagmatch.live")

SessionOpener = Callable[[], AbstractContextManager[Session]]
MAX_PENDING_RANGES = 64
MAX_SPLIT_RANGE = 10_000  # pending ranges at least this wide are not checked id by id
_SERIALS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class UserView:
    """One user as an answer needs them, as of the live state."""

    exists: bool
    row: int | None  # the model's row, when the model describes this very person
    attributes: dict[str, Any] | None  # declared data changed since the snapshot, else None
    tags: dict[str, float] | None
    recent: tuple[EventRow, ...] = ()  # events the model's snapshot does not hold

    @property
    def recent_item_ids(self) -> set[str]:
        return {event.item_id for event in self.recent}


@dataclass(frozen=True, slots=True)
class ItemView:
    exists: bool
    row: int | None  # the model's row, when the model has the item
    title: str = ""
    text: str = ""
    tags: dict[str, float] = field(default_factory=dict)


class LiveState:
    def __init__(self, model: TrainedModel, *, margin: timedelta) -> None:
        self.model = model
        self.margin = margin
        self.snapshot_at = datetime.fromtimestamp(model.snapshot_time, UTC)
        start = freshness.changes_after(self.snapshot_at)
        self._items_since = self._users_since = self._erasures_since = start
        self._after_pk: int | None = None  # None: the first read for this model is still due
        # Which events the model's snapshot read, as its training run recorded (read at the
        # first poll); None: not recorded, so the margin's re-reads are checked row by row.
        self._held: freshness.SnapshotEvents | None = None
        self._pending: list[tuple[int, int, float]] = []  # (lo, hi, give up at monotonic)
        self._applied: set[int] = set()
        # Items: the model's windows, overwritten by changes; new items the model lacks.
        self._published = np.array(model.item_published, dtype=np.float64)
        self._expires = np.array(model.item_expires, dtype=np.float64)
        self._deleted = np.zeros(len(model.items), dtype=bool)
        self._new_items: dict[str, ItemChange] = {}
        # Users: consent and erasures over the model's rows; declared data changed since.
        self._consent = np.array(model.user_consent, dtype=bool)
        # Rows a purge tombstoned (matching.erasure) when this model was loaded after it.
        self._erased = tombstoned_rows(model.users.ids)
        # Keyed by person_ref: the store keeps erased users only by pseudonym.
        self._erased_at: dict[str, datetime] = {}
        self._rows_by_ref: dict[str, int] | None = None  # built at the first erasure
        self._users: dict[str, UserChange] = {}
        self._recent_by_user: dict[str, tuple[EventRow, ...]] = {}
        self._recent_by_item: dict[str, frozenset[str]] = {}
        # Derived, rebuilt lazily when `generation` moves or a window opens or closes.
        self.generation = 0
        self._available: tuple[int, float, np.ndarray, np.ndarray | None] | None = None
        self._allowed_users: dict[bool, tuple[int, np.ndarray, np.ndarray | None]] = {}
        self._poll_lock = threading.Lock()
        self.last_success: float | None = None  # monotonic time of the last complete poll
        self.last_error: str | None = None
        self.writes_seen = 0  # api.live.writes: this process's writes read so far
        self.serial = next(_SERIALS)  # names this state in api.live.writes (never reused)
        self.rows_read = 0  # rows all polls returned: what the store paid for this state

    # ---- reading: what requests ask -------------------------------------------------------
    def age(self) -> float | None:
        """Seconds since the last complete poll; None before the first one."""
        return None if self.last_success is None else time.monotonic() - self.last_success

    def user(self, user_id: str) -> UserView:
        model, change = self.model, self._users.get(user_id)
        erased_at = self._erased_at.get(person_ref(user_id)) if self._erased_at else None
        if change is not None and erased_at is not None and erased_at >= change.created_at:
            change = None  # the change describes a person erased since
        row = model.users.index(user_id)
        if row is not None and (
            self._erased[row] or (change and change.created_at > self.snapshot_at)
        ):
            row = None  # erased, or erased and re-created: the model's row is someone else
        recent = self._recent_by_user.get(user_id, ())
        if change is None and row is None:
            return UserView(False, None, None, None)
        if change is None:
            return UserView(True, row, None, None, recent)
        return UserView(True, row, change.attributes, change.tags, recent)

    def item(self, item_id: str) -> ItemView:
        row = self.model.items.index(item_id)
        if row is not None:
            return ItemView(not bool(self._deleted[row]), row)
        new = self._new_items.get(item_id)
        if new is None or new.deleted:
            return ItemView(False, None)
        return ItemView(True, None, new.title, new.text, new.tags)

    def users_who_saw(self, item_id: str) -> frozenset[str]:
        return self._recent_by_item.get(item_id, frozenset())

    def available_items(self, now: float) -> tuple[np.ndarray, np.ndarray | None]:
        """(mask, rows) of the model's items live at `now`; rows is None when all are.

        Cached until the state changes or the next publication/expiry time passes, so a
        steady state costs a comparison per request."""
        cached = self._available
        if cached is not None and cached[0] == self.generation and now < cached[1]:
            return cached[2], cached[3]
        generation = self.generation
        with np.errstate(invalid="ignore"):
            mask = ~self._deleted & ~(self._published > now) & ~(self._expires <= now)
            future = np.concatenate(
                [self._published[self._published > now], self._expires[self._expires > now]]
            )
        valid_until = float(future.min()) if len(future) else float("inf")
        rows = None if bool(mask.all()) else np.flatnonzero(mask).astype(np.int64)
        self._available = (generation, valid_until, mask, rows)
        return mask, rows

    def user_mask(self, *, consent_only: bool) -> np.ndarray:
        """The model's users an audience may contain: not erased; with push consent if asked.
        A new array, the caller's to change."""
        return self.allowed_users(consent_only=consent_only)[0].copy()

    def allowed_users(self, *, consent_only: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(user_mask, its rows), read-only; rows is None when every user is allowed.

        Cached until the state changes: at 100k users, computing them on every audience call
        cost ~10 us, and ~120 us more (a third of the call's model time) once any user was
        erased or, for consent_only, had no consent: then the allowed rows are listed."""
        generation = self.generation
        cached = self._allowed_users.get(consent_only)
        if cached is not None and cached[0] == generation:
            return cached[1], cached[2]
        mask = ~self._erased & self._consent if consent_only else ~self._erased
        mask.flags.writeable = False
        rows = None if bool(mask.all()) else np.flatnonzero(mask).astype(np.int64)
        self._allowed_users[consent_only] = (generation, mask, rows)
        return mask, rows

    # ---- writing: the poller ------------------------------------------------------------
    def poll(self, open_session: SessionOpener, *, unless_seen: int | None = None) -> bool:
        """Read what changed since the last poll and apply it. True when anything changed.

        `unless_seen`: a catch-up for this process's writes up to that count; skipped when a
        poll that began after them already ran (requests waiting together share one read)."""
        with self._poll_lock:
            if unless_seen is not None and self.writes_seen >= unless_seen:
                return False
            started, mono = datetime.now(UTC), time.monotonic()
            self._pending = [p for p in self._pending if p[2] > mono]
            with open_session() as session:
                erasures = freshness.erasures_since(session, self._erasures_since)
                users = freshness.users_changed(session, self._users_since)
                items = freshness.items_changed(session, self._items_since)
                first_read = self._after_pk is None
                if first_read:
                    self._held = freshness.recorded_snapshot_events(session, self.model.version)
                events = freshness.events_outside_snapshot(
                    session,
                    self.snapshot_at,
                    after_pk=self._after_pk,
                    pending=[(lo, hi) for lo, hi, _ in self._pending],
                    held=self._held,
                )
                bounds = (
                    freshness.event_id_bounds(session, started - self.margin)
                    if first_read
                    else None
                )
            self.rows_read += len(erasures) + len(users) + len(items) + len(events)
            changed = self._apply_items(items) | self._apply_users(users)
            changed |= self._apply_erasures(erasures) | self._apply_events(events, mono, bounds)
            self._pending = self._still_missing()
            # Ids matter only where a read may return them again: the pending ranges.
            lowest = min((lo for lo, _, _ in self._pending), default=None)
            # So do ids above the watermark: events this process applied itself, which a
            # later read returns (apply_own_events).
            self._applied = {
                pk
                for pk in self._applied
                if (lowest is not None and pk >= lowest) or pk > (self._after_pk or 0)
            }
            # Rows stamped before `started - margin` had committed before this read began.
            self._items_since = self._users_since = self._erasures_since = max(
                self._items_since, started - self.margin
            )
            if changed:
                self.generation += 1
            self.last_success, self.last_error = time.monotonic(), None
            if unless_seen is not None:
                self.writes_seen = max(self.writes_seen, unless_seen)
            return changed

    def apply_own_events(self, events: tuple[EventRow, ...]) -> tuple[set[str], set[str]]:
        """Events this process has just committed, applied without reading them back (the
        poll that reads them later skips them by id). Only events whose user and item this
        state knows are applied: one that created a user or an item waits for a poll, which
        reads the new row with it. Returns the (user ids, item ids) whose every event here
        was applied."""
        with self._poll_lock:
            known = [self._knows(e.user_id, e.item_id) for e in events]
            applied = [e for e, k in zip(events, known, strict=True) if k]
            self._add_events([e for e in applied if e.pk not in self._applied])
            if applied:
                self.generation += 1
        waiting = [e for e, k in zip(events, known, strict=True) if not k]
        return (
            {e.user_id for e in applied} - {e.user_id for e in waiting},
            {e.item_id for e in applied} - {e.item_id for e in waiting},
        )

    def _knows(self, user_id: str, item_id: str) -> bool:
        return self.user(user_id).exists and self.item(item_id).exists

    def _apply_items(self, changes: list[ItemChange]) -> bool:
        changed = False
        for change in changes:
            row = self.model.items.index(change.id)
            if row is None:
                if self._new_items.get(change.id) != change:
                    self._new_items[change.id] = change
                    changed = True
                continue
            published, expires = _epoch(change.published_at), _epoch(change.expires_at)
            if (
                bool(self._deleted[row]) != change.deleted
                or not _same(self._published[row], published)
                or not _same(self._expires[row], expires)
            ):
                self._deleted[row] = change.deleted
                self._published[row], self._expires[row] = published, expires
                changed = True
        return changed

    def _apply_users(self, changes: list[UserChange]) -> bool:
        changed = False
        for change in changes:
            if self._users.get(change.id) == change:
                continue
            self._users[change.id] = change
            row = self.model.users.index(change.id)
            if row is not None and change.created_at <= self.snapshot_at:
                self._consent[row] = change.push_consent
            changed = True
        return changed

    def _apply_erasures(self, erasures: list[tuple[str, datetime]]) -> bool:
        changed = False
        new = [(ref, at) for ref, at in erasures if self._erased_at.get(ref) != at]
        if not new:
            return False
        if self._rows_by_ref is None:
            self._rows_by_ref = {person_ref(u): row for row, u in enumerate(self.model.users)}
        recent_ids = {person_ref(user_id): user_id for user_id in self._recent_by_user}
        for ref, erased_at in new:
            self._erased_at[ref] = max(erased_at, self._erased_at.get(ref, erased_at))
            row = self._rows_by_ref.get(ref)
            if row is not None:
                self._erased[row] = True
            user_id = recent_ids.get(ref)
            if user_id is not None:
                kept = tuple(
                    e for e in self._recent_by_user.get(user_id, ()) if e.ingested_at > erased_at
                )
                self._set_recent(user_id, kept)
            changed = True
        return changed

    def _apply_events(
        self, events: list[EventRow], mono: float, bounds: tuple[int, int] | None
    ) -> bool:
        """`bounds`: on the first read, (newest id, floor) from freshness.event_id_bounds."""
        new = [e for e in events if e.pk not in self._applied]
        got = {e.pk for e in events}
        if bounds is None:
            before = self._after_pk if self._after_pk is not None else 0
            top = max(got, default=before)
            self._track_gaps(before, top, got, mono)
        elif self._held is not None:
            # The first read, of exactly what the snapshot did not read: its missing ids are
            # asked for again while a write open at the snapshot may still commit, and so
            # are the ids above it that did not come back.
            top = max(bounds[0], self._held.through, max(got, default=0))
            self._track_gaps(self._held.through, top, got, mono)
            until = mono + self.margin.total_seconds()
            self._pending.extend((lo, hi, until) for lo, hi in self._held.missing)
            self._merge_pending(until)
        else:
            # The first read. Its watermark is the newest id, even when no row came back: a
            # watermark left at 0 would make every later poll scan the whole table. A write
            # still in flight began inside the margin, so its id is above `floor` (the
            # newest received before the margin): ids above it that did not come back are
            # asked for again; the rows below it are not. After a bulk load and a training
            # run, re-asking for the whole range would re-read the load on every poll.
            newest, floor = bounds
            top = max(newest, max(got, default=0))
            self._track_gaps(min(floor, top), top, got, mono)
        self._after_pk = max(top, self._after_pk or 0)
        self._add_events(new)
        return bool(new)

    def _add_events(self, new: list[EventRow]) -> None:
        for event in new:
            self._applied.add(event.pk)
            erased_at = self._erased_at.get(person_ref(event.user_id)) if self._erased_at else None
            if erased_at is not None and event.ingested_at <= erased_at:
                continue
            if (
                self._held is None
                and event.ingested_at <= self.snapshot_at
                and self._in_snapshot(event)
            ):
                continue  # read again through the margin; the model counted it already
            self._set_recent(event.user_id, (*self._recent_by_user.get(event.user_id, ()), event))
            seen = self._recent_by_item.get(event.item_id, frozenset())
            self._recent_by_item[event.item_id] = seen | {event.user_id}

    def _in_snapshot(self, event: EventRow) -> bool:
        user_row = self.model.users.index(event.user_id)
        item_row = self.model.items.index(event.item_id)
        if user_row is None or item_row is None:
            return False
        return self.model.foldin().holds(user_row, item_row, event.ts.timestamp())

    def _track_gaps(self, before: int, top: int, got: set[int], mono: float) -> None:
        """Ids between the old and the new watermark that did not come back belong to
        transactions still open (or rolled back): ask for them again for `margin`."""
        got = {pk for pk in got if pk > before}
        if len(got) >= top - before:
            return  # no gap: the common case
        if top - before > len(got) + 100_000:
            missing = [(before + 1, top)]  # too many to list: one range
        else:
            missing, start = [], None
            for pk in range(before + 1, top + 1):
                if pk not in got and start is None:
                    start = pk
                elif pk in got and start is not None:
                    missing.append((start, pk - 1))
                    start = None
            if start is not None:
                missing.append((start, top))
        until = mono + self.margin.total_seconds()
        self._pending.extend((lo, hi, until) for lo, hi in missing)
        self._merge_pending(until)

    def _still_missing(self) -> list[tuple[int, int, float]]:
        """The pending ranges less the ids that came back. Under a steady ingest on
        PostgreSQL, concurrent batches leave gaps at nearly every poll that fill a moment
        later; asked for over the whole margin, they soon merged into one range and every
        poll (every request after a write, in read-your-writes) re-read the last minute."""
        kept: list[tuple[int, int, float]] = []
        for lo, hi, until in self._pending:
            if hi - lo >= MAX_SPLIT_RANGE:  # a rolled-back bulk load, a merged range: as is
                kept.append((lo, hi, until))
                continue
            start = None
            for pk in range(lo, hi + 2):
                absent = pk <= hi and pk not in self._applied
                if absent and start is None:
                    start = pk
                elif not absent and start is not None:
                    kept.append((start, pk - 1, until))
                    start = None
        return kept

    def _merge_pending(self, until: float) -> None:
        """Too many ranges become one: a read may then return rows already applied (by id,
        `_applied`) or, with no record of the snapshot, rows the model holds (checked)."""
        if len(self._pending) > MAX_PENDING_RANGES:
            self._pending = [
                (min(p[0] for p in self._pending), max(p[1] for p in self._pending), until)
            ]

    def _set_recent(self, user_id: str, events: tuple[EventRow, ...]) -> None:
        old = self._recent_by_user.get(user_id, ())
        if events:
            self._recent_by_user[user_id] = events
        else:
            self._recent_by_user.pop(user_id, None)
        for item_id in {e.item_id for e in old} - {e.item_id for e in events}:
            left = self._recent_by_item.get(item_id, frozenset()) - {user_id}
            if left:
                self._recent_by_item[item_id] = left
            else:
                self._recent_by_item.pop(item_id, None)


def _epoch(value: datetime | None) -> float:
    return float("nan") if value is None else value.timestamp()


def _same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or a == b
