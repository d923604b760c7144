"""What happens to a serving store between benchmark phases, done the way a client does it.

* a bulk catalogue change: `PUT /v1/items` of every item with a new publication window
  (a nightly sync that moves expiry dates), through the API;
* load-then-train: every event stamped as received now (what a bulk load or a nightly sync
  followed by `tagmatch train` leaves: all of it just before the snapshot), then the real
  training command, then wait until every worker serves the new version;
* push lists of a given size, timed one after another;
* a py-spy profile of one worker while wrk drives it.
"""

from __future__ import annotations

import collections
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from api.store.db import READ_ONLY, create_db_engine
from api.store.tables import Event, Item, utcnow

ITEM_BATCH = 10_000  # the API's default TAGMATCH_MAX_BATCH


def all_item_ids(database_url: str) -> list[str]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return list(connection.execute(select(Item.id).order_by(Item.id)).scalars())
    finally:
        engine.dispose()


def bulk_change_items(base: str, ids: list[str]) -> float:
    """Give every item a new expiry (a year ahead, to the second of this run): a real window
    change for each. Returns the seconds the API took."""
    began = time.perf_counter()
    expires = datetime.now(UTC) + timedelta(days=365)
    with httpx.Client(base_url=base, timeout=600) as client:
        for start in range(0, len(ids), ITEM_BATCH):
            batch = [
                {"id": item_id, "expires_at": (expires + timedelta(seconds=i)).isoformat()}
                for i, item_id in enumerate(ids[start : start + ITEM_BATCH])
            ]
            client.put("/v1/items", json={"items": batch}).raise_for_status()
    return time.perf_counter() - began


def stamp_events_received_now(database_url: str) -> None:
    """Every event stamped as received now, as a bulk load stamps them."""
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(Event).values(ingested_at=utcnow()))
    finally:
        engine.dispose()


def train_and_activate(env: dict[str, str], log: Path) -> tuple[str, float]:
    """`tagmatch train --force` (activates even if the gate would keep the old model: the
    benchmark needs the swap). Returns (new active version, seconds)."""
    script = Path(sys.executable).parent / "tagmatch"
    entry = [str(script)] if script.is_file() else [sys.executable, "-m", "api.cli"]
    began = time.perf_counter()
    with log.open("ab") as out:
        subprocess.run(
            [*entry, "train", "--force"],
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    seconds = time.perf_counter() - began
    engine = create_db_engine(env["TAGMATCH_DATABASE_URL"])
    try:
        from api.store.tables import ModelVersion

        # Read-only: on SQLite a default transaction begins IMMEDIATE and waits for the write
        # lock, which the serving workers held while reading the new model's events.
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            version = connection.execute(
                select(ModelVersion.version).where(ModelVersion.is_active)
            ).scalar_one()
    finally:
        engine.dispose()
    return str(version), seconds


def wait_until_served(base: str, path: str, version: str, timeout: float = 300) -> float:
    """Until 40 answers in a row, each on a new connection (so every worker is asked), come
    from `version`. Returns the seconds waited."""
    began = time.monotonic()
    in_a_row = 0
    while in_a_row < 40:
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"version {version} not served by every worker in {timeout} s")
        answer = httpx.get(base + path, timeout=60).json()
        in_a_row = in_a_row + 1 if answer.get("model_version") == version else 0
        if not in_a_row:
            time.sleep(0.2)
    return time.monotonic() - began


def time_push_lists(base: str, item_ids: list[str], size: int) -> list[float]:
    """POST /v1/push-lists for each item, one after another; milliseconds each."""
    times = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for item_id in item_ids:
            began = time.perf_counter()
            response = client.post(
                "/v1/push-lists", json={"item_id": item_id, "size": size, "exclude_seen": True}
            )
            times.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            if not response.json()["users"]:
                raise RuntimeError(f"push list for {item_id} is empty")
    return times


ROOT = Path(__file__).resolve().parent.parent
GROUPS = (  # leaf frame's file -> where the CPU went, first match wins
    (
        "store (SQLAlchemy, drivers, api/store)",
        ("sqlalchemy/", "psycopg", "sqlite3/", "api/store/"),
    ),
    ("model (matching, numpy, scipy, faiss)", ("matching/", "numpy/", "scipy/", "faiss/")),
    ("answer schemas (pydantic, json)", ("pydantic", "api/schemas/", "json/")),
    (
        "HTTP framework (uvicorn, starlette, fastapi, anyio, asyncio)",
        ("uvicorn/", "starlette/", "fastapi/", "anyio/", "asyncio/", "httptools", "threading.py"),
    ),
    ("service code (api/)", ("api/",)),
)


def profile_summary(raw: Path, top: int = 15) -> list[str]:
    """Collapsed stacks (py-spy --format raw) -> where the samples' leaf frames are, by area,
    and the project functions (api/, matching/) most often on the stack."""
    inclusive: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        leaf = frames[-1]
        leaves[leaf] += count
        groups[next((g for g, keys in GROUPS if any(k in leaf for k in keys)), "other")] += count
        for frame in set(frames):
            if "(api/" in frame or "(matching/" in frame:
                inclusive[frame] += count
    if not total:
        return ["(no samples)"]
    lines = [f"{total} samples of the thread holding the GIL; leaf frame by area:"]
    lines += [f"  {100 * c / total:5.1f}%  {group}" for group, c in groups.most_common()]
    lines.append("project functions by share of samples on the stack (inclusive):")
    lines += [f"  {100 * c / total:5.1f}%  {frame}" for frame, c in inclusive.most_common(top)]
    lines.append("leaf frames (self time):")
    lines += [f"  {100 * c / total:5.1f}%  {frame}" for frame, c in leaves.most_common(top)]
    return lines


def _short(frame: str) -> str:
    """'func (pkg/mod.py:12)' -> 'func (pkg/mod.py)'. py-spy already shows paths relative to
    sys.path; absolute ones (the checkout) are made relative to it."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in (f"{ROOT}/", "site-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def record_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start py-spy on one worker for `seconds`: collapsed stacks of the thread holding the
    GIL (--gil), i.e. Python at work, not threads waiting."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [
        str(spy) if spy.is_file() else "py-spy", "record", "--pid", str(pid),
        "--duration", str(int(seconds)), "--rate", "250", "--format", "raw", "--gil",
        "--output", str(out), "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) if times else float("nan")
