"""Reading the store into a training snapshot on PostgreSQL: streamed vs fetched whole.

    .venv/bin/python bench/snapshot_bench.py --users 100000 --items 10000 --events 1000000

A synthetic catalogue (matching.synthetic) is written through api.ingest.write_catalogue into a
schema of its own (kept for reruns, keyed by the sizes; --recreate rebuilds it). Then fresh
processes read it with api.store.snapshot.read_snapshot in a snapshot_session, the two kinds
alternating, --repeats times each (medians reported): as shipped (yield_per: a server-side
cursor sending STREAM_BATCH rows at a time, columns straight into typed arrays) and the
baseline, the same function with every query fetched whole (the client-side cursor PostgreSQL
drivers use by default). Each reports wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fresh_process import run_json
from serving_data import postgres_schema_url
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.ingest import write_catalogue
from api.store.db import create_db_engine, make_session_factory
from api.store.migrate import upgrade_to_head
from api.store.tables import Event
from matching.synthetic import generate_catalogue

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

READER = """
import json, sys, time
from datetime import UTC, datetime
import api.store.snapshot as snapshot
from api.store.db import create_db_engine, snapshot_session
if sys.argv[2] == "whole":
    snapshot._stream = lambda session, query: session.execute(query)  # the baseline
engine = create_db_engine(sys.argv[1])
started = time.perf_counter()
with snapshot_session(engine) as session:
    snap = snapshot.read_snapshot(session, datetime.now(UTC))
seconds = time.perf_counter() - started
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
print(json.dumps({'seconds': seconds, 'peak_rss': int(status['VmHWM'].split()[0]) * 1024,
                  'events': len(snap.events), 'users': snap.n_users}))
"""


def prepare(admin_url: str, users: int, items: int, events: int, recreate: bool) -> str:
    url = postgres_schema_url(
        admin_url, f"scale_snapshot_{users}_{items}_{events}", recreate=recreate
    )
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
        with Session(engine) as session:
            stored = session.scalar(select(func.count()).select_from(Event))
        if stored == 0:
            started = time.perf_counter()
            catalogue = generate_catalogue(users, items, events, seed=0)
            write_catalogue(make_session_factory(engine), catalogue)
            print(f"store filled in {time.perf_counter() - started:.0f} s")
    finally:
        engine.dispose()
    return url


def read(url: str, mode: str) -> dict[str, float]:
    return run_json("-c", READER, url, mode)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("TAGMATCH_TEST_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--recreate", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="reads of each kind (median)")
    args = parser.parse_args()
    url = prepare(args.url, args.users, args.items, args.events, args.recreate)
    print(f"## snapshot read, PostgreSQL, {args.users} users x {args.items} items\n")
    print("| read | events read | seconds | peak RSS of the process |")
    print("|---|---|---|---|")
    runs: dict[str, list[dict[str, float]]] = {"streamed": [], "whole": []}
    for _ in range(args.repeats):  # alternating, so machine noise hits both alike
        for mode, result in runs.items():
            result.append(read(url, mode))
    results = {
        mode: {key: statistics.median(r[key] for r in result) for key in result[0]}
        for mode, result in runs.items()
    }
    for mode, result in results.items():
        label = "streamed (shipped)" if mode == "streamed" else "fetched whole (baseline)"
        print(
            f"| {label} | {int(result['events'])} | {result['seconds']:.1f} | "
            f"{result['peak_rss'] / 2**20:.0f} MiB |"
        )
    streamed, whole = results["streamed"], results["whole"]
    print(
        f"\nstreamed/whole: time {streamed['seconds'] / whole['seconds']:.2f}x, "
        f"peak memory {streamed['peak_rss'] / whole['peak_rss']:.2f}x"
    )


if __name__ == "__main__":
    main()
