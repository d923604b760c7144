"""Ingest throughput: events/s through POST /v1/events into SQLite and PostgreSQL.

A real uvicorn server runs in a subprocess on 127.0.0.1; httpx posts pre-encoded batches
over keep-alive connections. Each backend starts from an empty, migrated database (a temp
SQLite file; a fresh PostgreSQL schema, dropped afterwards).

    .venv/bin/python bench/ingest_bench.py                       # 100 000 events, batch 1 000
    .venv/bin/python bench/ingest_bench.py --events 20000 --batch 500 --clients 4
    .venv/bin/python bench/ingest_bench.py --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.store.db import create_db_engine  # noqa: E402
from api.store.migrate import upgrade_to_head  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EVENT_TYPES = ("view", "click", "like", "purchase")


def batches(n_events: int, batch: int, n_users: int, n_items: int, prefix: str) -> list[bytes]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    bodies = []
    for first in range(0, n_events, batch):
        events = [
            {
                "id": f"{prefix}-{i}",
                "user_id": f"user-{(i * 7919) % n_users}",
                "item_id": f"item-{(i * 104729) % n_items}",
                "type": EVENT_TYPES[i % len(EVENT_TYPES)],
                "value": 9.5 if i % 4 == 3 else None,
                "ts": (start + timedelta(seconds=i)).isoformat(),
            }
            for i in range(first, min(first + batch, n_events))
        ]
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(database_url: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "TAGMATCH_DATABASE_URL": database_url,
        "TAGMATCH_LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                # /healthz, not /readyz: ingest needs no model, and readiness waits for one.
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready in 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def post_all(base: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], int, int]:
    latencies: list[float] = []
    totals = [0, 0]
    headers = {"content-type": "application/json"}

    def run(share: list[bytes]) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            for body in share:
                began = time.perf_counter()
                response = client.post("/v1/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                response.raise_for_status()
                result = response.json()
                totals[0] += result["accepted"]
                totals[1] += result["duplicates"]

    shares = [bodies[k::clients] for k in range(clients)]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, shares))
    return time.perf_counter() - began, latencies, totals[0], totals[1]


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, connect_args={"connect_timeout": 3})
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench(name: str, url: str, args: argparse.Namespace, bodies: list[bytes]) -> list[str]:
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    rows = []
    with server(url, args.workers) as base:
        for phase in ("new", "resend"):
            seconds, latencies, accepted, duplicates = post_all(base, bodies, args.clients)
            expected = (args.events, 0) if phase == "new" else (0, args.events)
            if (accepted, duplicates) != expected:
                raise RuntimeError(f"{name} {phase}: got {accepted}/{duplicates}, want {expected}")
            p50, p95 = (
                statistics.median(latencies) * 1000,
                statistics.quantiles(latencies, n=20)[-1] * 1000,
            )
            rows.append(
                f"{name:<11} {phase:<7} {args.events:>9,} {args.batch:>6} {args.clients:>7} "
                f"{seconds:>8.2f} {args.events / seconds:>10,.0f} {p50:>8.1f} {p95:>8.1f}"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=1, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TAGMATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
    )
    args = parser.parse_args()

    bodies = batches(args.events, args.batch, args.users, args.items, uuid.uuid4().hex[:8])
    print(f"{os.cpu_count()} CPUs; {args.users} users, {args.items} items; phase 'resend' posts")
    print("the same events again (all duplicates).")
    header = "backend     phase      events  batch clients  seconds   events/s  p50 ms   p95 ms"
    print(header)
    print("-" * len(header))
    for backend in args.backends:
        if backend == "sqlite":
            with sqlite_database() as url:
                bench("sqlite", url, args, bodies)
        else:
            try:
                database = postgres_database(args.postgres_url)
                url = database.__enter__()
            except Exception as exc:
                print(f"postgresql  skipped: {args.postgres_url} unreachable ({exc})")
                continue
            try:
                bench("postgresql", url, args, bodies)
            finally:
                database.__exit__(None, None, None)


if __name__ == "__main__":
    main()
