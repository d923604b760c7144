"""Read-your-writes inside one process: a write this process acknowledged counts in its next
answer, without waiting for the poller."""

from __future__ import annotations

import logging
import threading

from api.live.state import LiveState, SessionOpener

log = logging.getLogger("tagmatch.live")


class WriteCounter:
    """Counts committed write requests; a live state that has not polled since the last one
    polls before answering. (Over-counting is harmless: one extra poll, which reads only
    what is new.)"""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def committed(self) -> None:
        with self._lock:
            self._count += 1

    def unseen_by(self, live: LiveState) -> bool:
        return live.writes_seen < self._count

    def catch_up(self, live: LiveState, open_session: SessionOpener) -> None:
        target = self._count  # every write counted so far committed before this poll begins
        try:
            live.poll(open_session, unless_seen=target)
        except Exception as exc:  # the store is down: answer from memory, marked stale
            live.last_error = f"{exc.__class__.__name__}: {exc}"
            log.warning("live state catch-up failed: %s", live.last_error)
            # Not again per request: the poller retries, and the answers say they are stale.
            live.writes_seen = max(live.writes_seen, target)
