"""Read-your-writes inside one process: a write this process acknowledged counts in its next
answer, without waiting for the poller."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from api.live.state import LiveState, SessionOpener

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
    """

    def __init__(self) -> None:
        self._count = 0
        self._any = 0  # the count at the last write that may change any answer
        self._touched: dict[str, int] = {}  # user_key/item_key -> count at its last event
        self._lock = threading.Lock()

    def committed(self, touched: Collection[str] | None = None) -> None:
        """One committed write; `touched`: the only answers it can change are about these
        keys (user_key, item_key). None: it may change any answer."""
        with self._lock:
            self._count += 1
            if touched is None or len(self._touched) + len(touched) > MAX_TOUCHED:
                self._any = self._count
                self._touched.clear()  # a live state that saw this write saw those too
            else:
                for key in touched:
                    self._touched[key] = self._count

    def unseen_by(self, live: LiveState, about: Collection[str] | None = None) -> bool:
        """Whether `live` must catch up before an answer about `about` (keys; None: an
        answer that any write may change)."""
        seen = live.writes_seen
        if seen >= self._count:
            return False
        if about is None or self._any > seen:
            return True
        touched = self._touched
        return any(touched.get(key, 0) > seen for key in about)

    def catch_up(self, live: LiveState, open_session: SessionOpener) -> None:
        target = self._count  # every write counted so far committed before this poll begins
        try:
            live.poll(open_session, unless_seen=target)
        except Exception as exc:  # the store is down: answer from memory, marked stale
            live.last_error = f"{exc.__class__.__name__}: {exc}"
            log.warning("live state catch-up failed: %s", live.last_error)
            # Not again per request: the poller retries, and the answers say they are stale.
            live.writes_seen = max(live.writes_seen, target)
