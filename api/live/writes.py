"""Read-your-writes inside one process: a write this process acknowledged counts in its next
answer, without waiting for the poller."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from api.live.state import LiveState, SessionOpener
from api.store.freshness import EventRow

log = logging.getLogger("tagmatch.live")

# Beyond this many users and items touched by events, the next write counts as one that may
# change any answer (one catch-up for all) and the record starts again.
MAX_TOUCHED = 100_000


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def item_key(item_id: str) -> str:
    return f"item:{item_id}"


class WriteCounter:
    """Counts committed write requests; a live state that has not polled since one that can
    change an answer polls before giving it. (Over-counting is harmless: one extra poll, which
    reads only what is new.)

    An event changes only the answers about its user (recommend: fold-in, seen items) and its
    item (audience: who engaged; a user or an item it created exists): an ingest stream must
    not make every page view wait for a store read. Every other write may change any answer.
    Events the writer applied to its live state itself (`LiveState.apply_own_events`) need no
    read at all from that live state; a live state that replaced it reads them back.
    """

    def __init__(self) -> None:
        self._count = 0
        self._any = 0  # the count at the last write that may change any answer
        # user_key/item_key -> (count at its last event, the serial of the live state that
        # event was applied to, or 0: not applied)
        self._touched: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def committed(
        self,
        touched: Collection[str] | None = None,
        *,
        applied: Collection[str] = (),
        live: LiveState | None = None,
    ) -> None:
        """One committed write; `touched`: the only answers it can change are about these
        keys (user_key, item_key). None: it may change any answer. `applied`: the keys among
        them whose every change this write made is already in `live`."""
        with self._lock:
            self._count += 1
            if touched is None or len(self._touched) + len(touched) > MAX_TOUCHED:
                self._any = self._count
                self._touched.clear()  # a live state that saw this write saw those too
                return
            for key in touched:
                where = live.serial if live is not None and key in applied else 0
                last, last_where = self._touched.get(key, (0, 0))
                if where and live is not None and last > live.writes_seen and last_where != where:
                    where = 0  # an earlier write about it may not be in `live`: read
                self._touched[key] = (self._count, where)

    def committed_events(self, events: Collection[EventRow], live: LiveState | None) -> None:
        """One committed write of these events and nothing else, applied at once to `live`
        (the serving one, if any): the writer's next answers need no store read for them."""
        touched = {user_key(e.user_id) for e in events} | {item_key(e.item_id) for e in events}
        if live is None:
            self.committed(touched)
            return
        users, items = live.apply_own_events(tuple(events))
        applied = {user_key(u) for u in users} | {item_key(i) for i in items}
        self.committed(touched, applied=applied, live=live)

    def unseen_by(self, live: LiveState, about: Collection[str] | None = None) -> bool:
        """Whether `live` must catch up before an answer about `about` (keys; None: an
        answer that any write may change)."""
        seen = live.writes_seen
        if seen >= self._count:
            return False
        if about is None or self._any > seen:
            return True
        touched, here = self._touched, live.serial
        for key in about:
            count, where = touched.get(key, (0, 0))
            if count > seen and where != here:
                return True
        return False

    def catch_up(self, live: LiveState, open_session: SessionOpener) -> None:
        target = self._count  # every write counted so far committed before this poll begins
        try:
            live.poll(open_session, unless_seen=target)
        except Exception as exc:  # the store is down: answer from memory, marked stale
            live.last_error = f"{exc.__class__.__name__}: {exc}"
            log.warning("live state catch-up failed: %s", live.last_error)
            # Not again per request: the poller retries, and the answers say they are stale.
            live.writes_seen = max(live.writes_seen, target)
