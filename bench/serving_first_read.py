"""A new model's first live read: with the training run's record of which events its snapshot
read (api.store.freshness.SnapshotEvents), and without it (versions trained before the record
existed: the minute before the snapshot is read again and each row checked against the model).

Runs on the serving benchmark's prepared store after its retrain phase, whose load-then-train
left every event received just before the active model's snapshot (the case that costs):

    .venv/bin/python bench/serving_bench.py --quick --phases retrain
    .venv/bin/python bench/serving_first_read.py --quick

Each way is timed `--rounds` times, alternating, in one process; the medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from serving_data import Sizes  # noqa: E402
from sqlalchemy import select  # noqa: E402

from api.live import LiveState  # noqa: E402
from api.model_holder import load_for_serving  # noqa: E402
from api.store import freshness  # noqa: E402
from api.store.db import create_db_engine, make_session_factory, session_scope  # noqa: E402
from api.store.tables import ModelVersion  # noqa: E402

MARGIN = timedelta(seconds=30)  # TAGMATCH_LIVE_MARGIN_SECONDS by default


def first_read(
    open_session: Any, model_dir: Path, path: str, *, recorded: bool
) -> tuple[float, int]:
    """(seconds, rows read) of one first poll for the active model."""
    model = load_for_serving(model_dir / path)
    live = LiveState(model, margin=MARGIN)
    real = freshness.recorded_snapshot_events
    if not recorded:
        freshness.recorded_snapshot_events = lambda *_: None  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        live.poll(open_session)
        return time.perf_counter() - began, live.rows_read
    finally:
        freshness.recorded_snapshot_events = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the 10k store of --quick")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(users=10_000, items=2_000, events=200_000)
    args = parser.parse_args()
    key = Sizes(args.users, args.items, args.events, 0).key(args.backend)
    info = (args.cache_dir / key / "prepared.json").read_text("utf-8")
    url = json.loads(info)["database_url"]
    engine = create_db_engine(url)
    open_session = partial(session_scope, make_session_factory(engine), read_only=True)
    with open_session() as session:
        path = session.scalar(select(ModelVersion.path).where(ModelVersion.is_active))
    times: dict[bool, list[float]] = {True: [], False: []}
    rows: dict[bool, int] = {}
    for _ in range(args.rounds):
        for recorded in (True, False):
            seconds, rows[recorded] = first_read(
                open_session, args.cache_dir / key / "models", str(path), recorded=recorded
            )
            times[recorded].append(seconds)
    engine.dispose()
    for recorded, label in ((True, "recorded"), (False, "not recorded")):
        print(
            f"first read, snapshot {label:<12}: median {statistics.median(times[recorded]):.3f} s "
            f"of {[round(t, 3) for t in times[recorded]]}, {rows[recorded]:,} rows read"
        )


if __name__ == "__main__":
    main()
