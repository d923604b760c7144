"""What a training run reports as it goes: a log line per finished stage (with its time),
the job's row (stage and progress, for GET /v1/jobs/{id}), and any display beside.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from api.store import jobs
from api.store.db import SessionFactory, session_scope

log = logging.getLogger("tagmatch.train")

# The row is written at each stage change, else at most this often: a run never waits on
# the store for a progress bar.
WRITE_EVERY_SECONDS = 1.0


class StageRecorder:
    """A progress callback `(stage, fraction of the run)` that keeps the stages' durations."""

    def __init__(
        self,
        factory: SessionFactory | None = None,
        job_id: str | None = None,
        display: Callable[[str, float], None] | None = None,
    ) -> None:
        self.factory = factory
        self.job_id = job_id
        self.display = display
        self.seconds: dict[str, float] = {}
        self.stage: str | None = None
        self.fraction = 0.0
        self._stage_started = time.monotonic()
        self._written = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        changed = stage != self.stage
        if changed:
            self._close_stage(now)
            self.stage, self._stage_started = stage, now
            log.info(
                "stage %s started", stage, extra={"stage": stage, "progress": round(fraction, 3)}
            )
        self.fraction = fraction
        if self.display is not None:
            self.display(stage, fraction)
        if changed or now - self._written >= WRITE_EVERY_SECONDS:
            self._write(stage, fraction)
            self._written = now

    def finish(self) -> dict[str, float]:
        """Close the last stage; the seconds each stage took, in order."""
        self._close_stage(time.monotonic())
        self.stage = None
        if self.display is not None:
            self.display("done", 1.0)
        return dict(self.seconds)

    def _close_stage(self, now: float) -> None:
        if self.stage is None:
            return
        seconds = round(now - self._stage_started, 3)
        self.seconds[self.stage] = round(self.seconds.get(self.stage, 0.0) + seconds, 3)
        log.info(
            "stage %s finished in %.1f s",
            self.stage,
            seconds,
            extra={"stage": self.stage, "seconds": seconds},
        )

    def _write(self, stage: str, fraction: float) -> None:
        if self.factory is None or self.job_id is None:
            return
        try:
            with session_scope(self.factory) as session:
                jobs.set_job_progress(session, self.job_id, stage, fraction)
        except Exception:  # progress is a courtesy: a store hiccup must not fail the run
            log.warning("could not record the progress of job %s", self.job_id, exc_info=True)
