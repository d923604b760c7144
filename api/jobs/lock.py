"""One training run at a time per model directory: an exclusive `flock` on
`<model_dir>/.train.lock`, held from before the job is claimed until after its outcome is
recorded.

Why flock: the kernel drops the lock when the holder's last descriptor closes, and a dying
process (SIGKILL, OOM) closes all of them, so there is never a stale lock to clean and
"nobody holds the lock" reliably means "no training process is alive". It works across
processes and containers sharing the directory on one host (and over NFS, where Linux maps
flock onto byte-range locks). Locks belong to the open file description: two `open`s in one
process conflict like two processes do.

The file is never deleted: a waiter that had opened the old inode would lock a file nobody
else can see. Its content (pid, host, job, since) only describes the current holder for
error messages; it is stale whenever nobody holds the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".train.lock"
# sysexits EX_TEMPFAIL: another run is on; a scheduler may simply try again later.
LOCKED_EXIT = 75
# How long a start retries a contended lock: a probe holds it for an instant, a run for minutes.
PROBE_GRACE_SECONDS = 2.0


class TrainingLocked(RuntimeError):
    """Another training run holds the lock of this model directory."""


def lock_path(model_dir: Path) -> Path:
    return Path(model_dir) / LOCK_NAME


def _describe(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):  # being rewritten by a new holder: say what we can
        holder = {}
    if not isinstance(holder, dict):
        holder = {}
    parts = [f"pid {holder['pid']} on {holder.get('host', '?')}"] if "pid" in holder else []
    if holder.get("job_id"):
        parts.append(f"job {holder['job_id']}")
    if holder.get("since"):
        parts.append(f"since {holder['since']}")
    return ", ".join(parts) or "holder unknown"


def _is_contended(exc: OSError) -> bool:
    return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


class TrainingLock:
    """Held for a whole run; release by `release()`, the `with` block, or process death."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, model_dir: Path, *, job_id: str | None = None) -> TrainingLock:
        """Take the lock without waiting; TrainingLocked when another run holds it."""
        path = lock_path(model_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_through_probes(fd)
        except OSError as exc:
            holder = _describe(fd)
            os.close(fd)
            if not _is_contended(exc):
                raise
            raise TrainingLocked(
                f"another training run holds the training lock {path} ({holder}); "
                "not starting a second one"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "job_id": job_id,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
        except OSError:  # a full disk must not stop the run: the note is only informative
            pass
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the last descriptor: the kernel drops the lock
            self._fd = None

    def __enter__(self) -> TrainingLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _lock_through_probes(fd: int) -> None:
    """The exclusive lock, without waiting for a run; OSError (contended) when one holds it.

    training_lock_holder() probes with a shared lock for an instant, from serving processes
    on every model poll: on a loaded machine a probe's thread can be descheduled while it
    holds it. A contended lock is tried again for PROBE_GRACE_SECONDS, far less than any run.
    """
    deadline = time.monotonic() + PROBE_GRACE_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if not _is_contended(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.02)


def training_lock_holder(model_dir: Path) -> str | None:
    """Who holds the lock now (a description), or None when no training run is alive.

    A shared probe, so probes never block one another; it can only collide with a run that
    tries to start in the same microseconds, and probes are made when a job looks dead."""
    try:
        fd = os.open(lock_path(model_dir), os.O_RDONLY)
    except FileNotFoundError:
        return None  # no run ever started here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if not _is_contended(exc):
            raise
        return _describe(fd)
    finally:
        os.close(fd)
    return None
