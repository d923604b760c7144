"""Timestamps inside a sane window (settings.timestamp_min/max, default 1970-2100).

Beyond it PostgreSQL refuses some values outright (year 1 with a positive offset is "timestamp
too small"), epoch arithmetic in training loses meaning, and a typo such as year 20240 would
silently rule time decay. The window is per application (settings), so the request-limits
middleware publishes it for the request in a context variable that the validator reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

DEFAULT_WINDOW = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
_window: ContextVar[tuple[datetime, datetime]] = ContextVar(
    "timestamp_window", default=DEFAULT_WINDOW
)


@contextmanager
def timestamp_window(earliest: datetime, latest: datetime) -> Iterator[None]:
    """Validate timestamps against [earliest, latest) inside this block."""
    token = _window.set((earliest, latest))
    try:
        yield
    finally:
        _window.reset(token)


def _in_window(value: datetime) -> datetime:
    earliest, latest = _window.get()
    if not earliest <= value < latest:
        raise ValueError(
            f"must lie between {earliest.isoformat()} and {latest.isoformat()} (the configured "
            "window, TAGMATCH_TIMESTAMP_MIN/MAX)"
        )
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_window)]
