"""Progress reporting of long runs (training): a callback told the current stage and the
fraction of the whole run done, 0..1. The caller decides what to do with it (log it, draw a
bar, write it to the job's row); the science only says where it is.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float], None]


def ignore_progress(stage: str, fraction: float) -> None:
    """The callback of a caller that does not listen."""


def within(progress: Progress | None, start: float, end: float) -> Progress:
    """A callback for a part of a run spanning [start, end] of the whole: its own 0..1 is
    mapped into that span, so nested steps report fractions of the whole run."""
    if progress is None:
        return ignore_progress
    outer = progress

    def report(stage: str, fraction: float) -> None:
        outer(stage, start + (end - start) * min(max(fraction, 0.0), 1.0))

    return report
