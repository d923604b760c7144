"""Who is calling, and may they: API keys with scopes, and a brake on guessing keys.

Authentication is on when TAGMATCH_API_KEY is set or the store holds an active key
(`tagmatch keys create`); with neither, the service is open (the local default). The
TAGMATCH_API_KEY key holds every scope. Stored keys are checked against the store, with
answers cached for CACHE_SECONDS, so a revocation takes effect within that time.
Repeated failed keys from one client address are answered 429 for a while.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from api.settings import Settings
from api.store import keys
from api.store.keys import SCOPES, Principal

CACHE_SECONDS = 5.0
ENV_KEY_ID = "env"


class FailedKeyBrake:
    """At most `limit` failed keys per client address within `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float | None:
        """Seconds until this client may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return None
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if not failures:
                del self._failures[client]
                return None
            if len(failures) < self.limit:
                return None
            return failures[0] + self.window - now

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, deque()).append(time.monotonic())


class Authenticator:
    def __init__(
        self, settings: Settings, open_session: Callable[..., AbstractContextManager[Session]]
    ) -> None:
        self.env_key = settings.api_key.get_secret_value() if settings.api_key else None
        self.open_session = open_session
        self.brake = FailedKeyBrake(settings.failed_key_limit, settings.failed_key_window_seconds)
        self._lock = threading.Lock()
        self._keys_in_store: tuple[float, bool] = (0.0, False)
        self._known: dict[str, tuple[float, Principal | None]] = {}

    def answers_from_memory(self, presented: str | None) -> bool:
        """Whether required() and principal(presented) need no store read now."""
        now = time.monotonic()
        if self.env_key is None and now - self._keys_in_store[0] > CACHE_SECONDS:
            return False
        if presented is None or (
            self.env_key is not None
            and secrets.compare_digest(presented.encode(), self.env_key.encode())
        ):
            return True
        digest = hashlib.sha256(presented.encode()).hexdigest()
        cached = self._known.get(digest)
        return cached is not None and now - cached[0] <= CACHE_SECONDS

    def required(self) -> bool:
        if self.env_key is not None:
            return True
        now = time.monotonic()
        checked_at, present = self._keys_in_store
        if now - checked_at > CACHE_SECONDS:
            try:
                with self.open_session(read_only=True) as session:
                    present = keys.any_active_key(session)
            except Exception:
                # Store unreachable: keep the last answer. Open stays open (reads are
                # served from memory then); keys in use cannot be checked, so that raises.
                if checked_at == 0.0 or present:
                    raise
                return False
            self._keys_in_store = (now, present)
        return present

    def principal(self, presented: str) -> Principal | None:
        """The holder of this key, or None when it is not a valid key."""
        if self.env_key is not None and secrets.compare_digest(
            presented.encode(), self.env_key.encode()
        ):
            return Principal(ENV_KEY_ID, frozenset(SCOPES))
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached is not None and now - cached[0] <= CACHE_SECONDS:
            return cached[1]
        with self.open_session(read_only=True) as session:
            found = keys.authenticate(session, presented)
        with self._lock:
            if len(self._known) > 10_000:  # a flood of wrong keys must not grow it forever
                self._known.clear()
            self._known[digest] = (now, found)
        return found
