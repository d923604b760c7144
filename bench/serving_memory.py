"""Memory per serving worker: does N uvicorn workers cost about one model?

Starts `tagmatch serve --workers N` on the serving benchmark's prepared store (see
bench/serving_data.py), sends every worker traffic (recommend and audience on random ids, new
connections, so the kernel spreads them), then reads each worker's /proc/PID/smaps_rollup:

* RSS — pages the worker has in memory, shared or not (what `ps` shows; N workers' RSS add up
  to more than the machine spends);
* USS — pages only this worker has (Private_Clean + Private_Dirty): what one more worker costs;
* PSS — each shared page divided by the number of processes mapping it: the sum over all
  processes is what the server really costs.

`--checkout DIR` serves from another checkout of the code (e.g. `git worktree add /tmp/before
main`) with the same Python environment and the same store, for a before/after in one run.
The model is retrained for the checkout only if its artifact lacks what that code stores.

    .venv/bin/python bench/serving_memory.py --workers 1 4
    .venv/bin/python bench/serving_memory.py --workers 1 4 --checkout /tmp/before
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
from machine_stats import machine  # noqa: E402
from serving_bench import DEFAULT_POSTGRES  # noqa: E402
from serving_data import Prepared, Sizes, prepare  # noqa: E402
from serving_load import Server, free_port, scenarios, server, worker_pids, wrk  # noqa: E402

MIB = 1024.0


def smaps_rollup(pid: int) -> dict[str, float]:
    """MiB figures of one process from /proc/PID/smaps_rollup (Linux >= 4.14)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, rest = line.split(":", 1)
        values[key] = int(rest.split()[0]) / MIB  # kB
    return {
        "rss": values["Rss"],
        "pss": values["Pss"],
        "uss": values["Private_Clean"] + values["Private_Dirty"],
        "anon": values.get("Anonymous", 0.0),
    }


def traffic(target: Server, prepared: Prepared, seconds: float) -> None:
    """wrk at 16 connections on recommend, then audience: the kernel spreads the connections
    over the workers (a sequential client would mostly meet one of them)."""
    load = argparse.Namespace(wrk_threads=1, connections=16)
    for scenario in scenarios(100):
        ids = prepared.user_ids_file if scenario.ids_kind == "user" else prepared.item_ids_file
        wrk(target, scenario, ids, load, seconds)


def measure(
    workers: int, env: dict[str, str], cwd: Path, prepared: Prepared, seconds: float
) -> tuple[list[dict[str, float]], dict[str, float] | None, str]:
    """(each worker's figures, the supervisor's when there is one, the model served)."""
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with (
        tempfile.TemporaryDirectory() as logs,
        server(
            "tagmatch", command, env, "/readyz", port, Path(logs), cwd=cwd, workers=workers
        ) as target,
    ):
        pids = worker_pids(target.pid, workers)
        traffic(target, prepared, seconds)
        served = str(httpx.get(target.base + "/v1/models", timeout=30).json()["serving"])
        master = smaps_rollup(target.pid) if workers > 1 else None
        # uvicorn replaces a worker that stops answering its supervisor's pings (seen under a
        # saturated machine): measure the workers alive now
        figures = []
        for pid in worker_pids(target.pid, workers):
            try:
                figures.append(smaps_rollup(pid))
            except FileNotFoundError:
                continue
        if set(worker_pids(target.pid, workers)) != set(pids):
            print(f"note: a worker was replaced during the run ({workers} workers)", flush=True)
        return figures, master, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk traffic per endpoint")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TAGMATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="code to serve from")
    args = parser.parse_args()
    prepared = prepare(
        Sizes(args.users, args.items, args.events, args.seed),
        args.cache_dir,
        backend=args.backend,
        postgres_url=args.postgres_url,
    )
    env = {
        "TAGMATCH_DATABASE_URL": prepared.database_url,
        "TAGMATCH_MODEL_DIR": str(prepared.model_dir),
        "TAGMATCH_LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": str(args.checkout.resolve()),
    }
    revision = (
        subprocess.run(
            ["git", "-C", str(args.checkout), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
        ).stdout.strip()[:90]
        or "(not a git checkout)"
    )
    lines = [
        f"command: `{shlex.join([sys.executable, *sys.argv])}`",
        f"code: {args.checkout} at {revision}",
        f"machine: {machine()}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; data: {prepared.info['users']:,} users x "
        f"{prepared.info['items']:,} items x {prepared.info['events']:,} events; measured "
        f"after wrk -c16 {args.seconds:g} s on recommend and on audience",
        "",
        "| workers | RSS MiB per worker | USS MiB per worker | PSS MiB per worker "
        "| PSS MiB all processes | model served |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for workers in args.workers:
        per_worker, master, served = measure(
            workers, env, args.checkout.resolve(), prepared, args.seconds
        )
        shown = {
            key: " / ".join(f"{p[key]:.0f}" for p in per_worker) for key in ("rss", "uss", "pss")
        }
        total = sum(p["pss"] for p in per_worker) + (master["pss"] if master else 0.0)
        lines.append(
            f"| {workers} | {shown['rss']} | {shown['uss']} | {shown['pss']} | {total:.0f} "
            f"| {served} |"
        )
        print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
