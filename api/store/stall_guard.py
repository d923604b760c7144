"""A client-side deadline for database calls that a stalled server would block forever.

libpq waits on its socket without a limit once connected: a server (or a proxy in front of
it) that accepts TCP and never answers holds the calling thread as long as it likes. The
guard's one watchdog thread shuts down the socket of a connection whose call overran its
deadline; libpq then fails the call with "server closed the connection", the pool discards
that connection, and the request gets its 503 instead of hanging.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("tagmatch.store")


class StallGuard:
    def __init__(self) -> None:
        self._deadlines: list[tuple[float, int]] = []
        self._armed: dict[int, Any] = {}
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> int:
        """Watch this connection for `seconds`; returns the token to disarm with."""
        token = next(self._ids)
        with self._wake:
            self._armed[token] = dbapi_connection
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, token))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="store-stall-guard", daemon=True
                )
                self._thread.start()
            if self._deadlines[0][1] == token:  # the watchdog sleeps until an earlier one
                self._wake.notify()
        return token

    def disarm(self, token: int | None) -> None:
        if token is not None:
            with self._wake:
                self._armed.pop(token, None)

    @contextmanager
    def watching(self, dbapi_connection: Any, seconds: float) -> Iterator[None]:
        token = self.arm(dbapi_connection, seconds)
        try:
            yield
        finally:
            self.disarm(token)

    def _watch(self) -> None:
        while True:
            with self._wake:
                while not self._deadlines:
                    self._wake.wait()
                deadline, token = self._deadlines[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._deadlines)
                connection = self._armed.pop(token, None)
            if connection is not None:
                _cut(connection)


def _cut(dbapi_connection: Any) -> None:
    """Shut the socket down under libpq: the blocked call returns with an error at once."""
    try:
        descriptor = dbapi_connection.fileno()
        # A duplicate, so closing our socket object leaves libpq's descriptor to libpq.
        sock = socket.socket(fileno=socket.dup(descriptor))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
        log.warning("database call overran its deadline; connection cut")
    except OSError:
        pass  # already closed
