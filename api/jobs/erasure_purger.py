"""Erased ids out of the model directory soon after DELETE, the served version included,
without waiting for a training run.

Each serving process runs one ErasurePurger thread. It wakes when this process has erased
someone (`poke`, after the commit), and every `every` seconds for erasures made elsewhere
(another replica, the CLI) or whose purge a crash cut short; then, when the store holds
erasures the model directory's watermark does not cover (api.jobs.model_upkeep.purge_due),
it runs `tagmatch models purge-erased --if-due` and waits for it.

The purge runs in a process of its own, like training (api.jobs.launcher): reading the ids of
every version and hashing each one would otherwise compete with requests for the GIL, and a
crash there leaves serving alone. It takes the training lock without waiting, so a DELETE
never waits on a run either: while a run holds the lock nothing is launched, the run purges
every version at its end (api.jobs.train), and the next tick checks again. Several replicas
noticing one erasure launch several purges; the lock lines them up and `--if-due` makes all
but the first a no-op.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable

from api.jobs.lock import LOCKED_EXIT, training_lock_holder
from api.jobs.model_upkeep import purge_due
from api.settings import Settings
from api.store.db import SessionFactory

log = logging.getLogger("tagmatch.models")

PurgeRunner = Callable[[Settings], int]


def run_purge_process(settings: Settings) -> int:
    """`tagmatch models purge-erased --if-due` for this settings' store and model directory;
    its exit status (0 done or nothing due, 75 a training run holds the lock). Its log lines
    go to the same stream as ours; its one line of output (counts, no ids) becomes a log line."""
    env = dict(os.environ)
    env["TAGMATCH_DATABASE_URL"] = settings.database_url
    env["TAGMATCH_MODEL_DIR"] = str(settings.model_dir)
    env["TAGMATCH_MODEL_RETENTION"] = str(settings.model_retention)
    if settings.pseudonym_key is not None:
        env["TAGMATCH_PSEUDONYM_KEY"] = settings.pseudonym_key.get_secret_value()
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    command = [sys.executable, "-m", "api.cli", "models", "purge-erased", "--if-due"]
    done = subprocess.run(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,  # a signal to the API's process group is not meant for it
        check=False,
    )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode == 0 and lines:
        try:
            outcome = json.loads(lines[-1])
        except ValueError:
            outcome = None
        if isinstance(outcome, dict) and (outcome.get("pruned") or outcome.get("erased_rows")):
            log.info("model directory purged of erased users", extra=outcome)
    return done.returncode


class ErasurePurger:
    def __init__(
        self,
        settings: Settings,
        factory: SessionFactory,
        *,
        every: float,
        run: PurgeRunner = run_purge_process,
    ) -> None:
        self._settings = settings
        self._factory = factory
        self._every = every
        self._run = run
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.purges = 0  # purge processes run by this process (tests, metrics)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="erasure-purger", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Check now: this process has just committed an erasure."""
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop; a purge under way finishes (it is bounded, and safe to cut: the next one
        redoes what is left) unless it outlasts `timeout`, then it runs on alone."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():  # at once first: a crash before a purge is repaired
            self._wake.clear()
            try:
                self.check()
                self._failing = False
            except Exception as exc:  # a store outage: the next tick tries again
                if not self._failing:
                    log.warning("erasure purge check failed: %s: %s", exc.__class__.__name__, exc)
                self._failing = True
            self._wake.wait(self._every)

    def check(self) -> int | None:
        """One round: the purge's exit status, or None when none was due (or a training run
        holds the lock: it purges at its end)."""
        model_dir = self._settings.model_dir
        if training_lock_holder(model_dir) is not None:
            return None
        if not purge_due(self._factory, model_dir):
            return None
        code = self._run(self._settings)
        self.purges += 1
        if code not in (0, LOCKED_EXIT):
            log.warning("erasure purge exited with status %d; retried in %.0f s", code, self._every)
        return code
