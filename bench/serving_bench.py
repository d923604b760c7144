"""Serving throughput: tagmatch recommend/audience beside a bare FastAPI app, under wrk.

Both servers run at once on 127.0.0.1 with the same uvicorn worker count: the real service
(`tagmatch serve`, a synthetic store trained by the real job, see bench/serving_data.py)
and bench/bare_app.py, which returns captured tagmatch answers as precomputed bytes. wrk
(Debian package `wrk`) drives each with a fixed number of keep-alive connections for a fixed
time; its Lua script (bench/serving_wrk.lua) draws a random user or item id per request from
10 000 sampled ids. Runs alternate bare, tagmatch, bare, tagmatch... so machine noise hits
both sides; each figure is the median over the rounds. The headline is the ratio.

Beside wrk's figures: the servers' CPU time per request (from /proc, all worker processes),
which load on the same 2 cores barely disturbs; the cores other processes used meanwhile (a
busy machine makes a run noise, the report says so); and how the kernel spread the
connections over the workers (uvicorn workers race on one accept queue: 8/8 or 2/14).

    .venv/bin/python bench/serving_bench.py                       # 100k users x 20k items
    .venv/bin/python bench/serving_bench.py --quick               # 10k x 2k, 5 s runs
    .venv/bin/python bench/serving_bench.py --workers 2 --connections 16 --duration 15
    .venv/bin/python bench/serving_bench.py --backend postgresql  # schema in database test
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
from machine_stats import (  # noqa: E402
    children_cpu_seconds,
    cpu_seconds,
    machine,
    machine_busy_seconds,
)
from serving_data import Prepared, Sizes, prepare  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LUA = BENCH / "serving_wrk.lua"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    template: str  # request path with one %s for the id
    ids_kind: str  # "user" or "item"


@dataclass(frozen=True, slots=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu_ms: float  # server CPU time (all its processes) per request
    cpu_use: float  # server CPU time / wall time, in cores
    wrk_cpu_use: float  # the load generator's share of the same cores
    other_cpu_use: float  # everything else on the machine meanwhile: noise when above ~0.1
    split: str = "?"  # open connections per worker process, e.g. "7/9"


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    pid: int


def scenarios(audience_n: int) -> list[Scenario]:
    return [
        Scenario("recommend n=10", "/v1/users/%s/recommendations?n=10&exclude_seen=true", "user"),
        Scenario(
            f"audience n={audience_n}",
            f"/v1/items/%s/audience?n={audience_n}&exclude_seen=true",
            "item",
        ),
    ]


def shown_python() -> str:
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    name: str, command: list[str], env: dict[str, str], ready_path: str, port: int, logs: Path
) -> Iterator[Server]:
    base = f"http://127.0.0.1:{port}"
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
                try:
                    if httpx.get(base + ready_path, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready in 120 s; see {log_path}")
                time.sleep(0.2)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tagmatch_command(port: int, workers: int) -> list[str]:
    script = Path(sys.executable).parent / "tagmatch"
    entry = [str(script)] if script.is_file() else [sys.executable, "-m", "api.cli"]
    return [*entry, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def bare_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def capture(base: str, scenario: Scenario, ids_file: Path, out: Path) -> int:
    """Save a real tagmatch answer for the bare app to serve; check it is a full answer."""
    first_id = ids_file.read_text("utf-8").split("\n", 1)[0]
    response = httpx.get(base + scenario.template % first_id, timeout=60)
    response.raise_for_status()
    body = response.json()
    listed = body.get("items", body.get("users", []))
    if not listed:
        raise RuntimeError(f"tagmatch {scenario.name} returned an empty answer: {body}")
    out.write_bytes(response.content)
    return len(response.content)


def connections_per_worker(target: Server) -> str:
    """How the kernel spread wrk's connections over the workers (uvicorn workers share one
    listening socket, so the split is whatever accept() raced to: 8/8 or 2/14)."""
    if shutil.which("ss") is None:
        return "?"
    port = target.base.rsplit(":", 1)[1]
    listed = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    counts = Counter(re.findall(r"pid=(\d+)", listed))
    return "/".join(str(n) for n in sorted(counts.values())) or "?"


def wrk(
    target: Server, scenario: Scenario, ids_file: Path, args: argparse.Namespace, seconds: float
) -> Run:
    command = [
        "wrk", "-t", str(args.wrk_threads), "-c", str(args.connections),
        "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(LUA), target.base,
        "--", str(ids_file), scenario.template,
    ]  # fmt: skip
    server_cpu, wrk_cpu = cpu_seconds(target.pid), children_cpu_seconds()
    busy, began = machine_busy_seconds(), time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(min(1.0, seconds / 3))  # connections are open and spread by now
    split = connections_per_worker(target)
    stdout, stderr = process.communicate()
    wall = time.monotonic() - began
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr}")
    server_cpu, wrk_cpu = cpu_seconds(target.pid) - server_cpu, children_cpu_seconds() - wrk_cpu
    other_cpu = machine_busy_seconds() - busy - server_cpu - wrk_cpu
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    summary = json.loads(lines[-1])
    failures = {k: v for k, v in summary.items() if k.endswith(("errors", "timeouts")) and v}
    if failures or summary["requests"] == 0:
        raise RuntimeError(f"{target.base} {scenario.name}: no answers or failures {summary}")
    return Run(
        rps=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        cpu_ms=server_cpu * 1000 / max(summary["requests"], 1),
        cpu_use=server_cpu / wall,
        wrk_cpu_use=wrk_cpu / wall,
        other_cpu_use=max(other_cpu / wall, 0.0),
        split=split,
    )


def median_run(runs: list[Run]) -> Run:
    return Run(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        requests=sum(r.requests for r in runs),
        cpu_ms=statistics.median(r.cpu_ms for r in runs),
        cpu_use=statistics.median(r.cpu_use for r in runs),
        wrk_cpu_use=statistics.median(r.wrk_cpu_use for r in runs),
        other_cpu_use=statistics.median(r.other_cpu_use for r in runs),
    )


def report(
    args: argparse.Namespace,
    prepared: Prepared,
    results: dict[tuple[str, str], list[Run]],
    body_sizes: dict[str, int],
    all_scenarios: list[Scenario],
) -> str:
    info = prepared.info
    lines = [
        f"command: `{shlex.join([shown_python(), *sys.argv])}`",
        f"machine: {machine()}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; wrk {args.wrk_version}",
        f"data: {info['users']:,} users x {info['items']:,} items x {info['events']:,} events "
        f"({args.backend}), model {info['model_version']}; prepared in "
        f"{info['generate_s']} s generate + {info['write_s']} s store + {info['train_s']} s train",
        f"load: {args.workers} uvicorn workers per server, wrk -t{args.wrk_threads} "
        f"-c{args.connections}, {args.duration:g} s per run, {args.rounds} rounds alternating "
        f"bare/tagmatch, median shown; random ids from 10 000 sampled",
        "",
        "server CPU: user+system time of the server's processes during a run; per request, "
        f"and in cores busy (of {os.cpu_count()}; wrk uses the rest)",
        "",
        "| endpoint | server | req/s | p50 ms | p99 ms | CPU ms/req | CPU cores | body bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in all_scenarios:
        bare = median_run(results[(scenario.name, "bare")])
        real = median_run(results[(scenario.name, "tagmatch")])
        size = body_sizes[scenario.name]
        for side, run in (("bare FastAPI", bare), ("tagmatch", real)):
            lines.append(
                f"| {scenario.name} | {side} | {run.rps:,.0f} | {run.p50_ms:.2f} | "
                f"{run.p99_ms:.2f} | {run.cpu_ms:.2f} | {run.cpu_use:.2f} | {size:,} |"
            )
        lines.append(
            f"| {scenario.name} | **tagmatch / bare** | **{real.rps / bare.rps:.3f}** | "
            f"**{real.p50_ms / bare.p50_ms:.1f}x** | **{real.p99_ms / bare.p99_ms:.1f}x** | "
            f"**{real.cpu_ms / bare.cpu_ms:.1f}x** | | |"
        )
    other = statistics.median(r.other_cpu_use for runs in results.values() for r in runs)
    lines += [
        "",
        f"other processes used a median {other:.2f} cores during the runs"
        + (" (PostgreSQL's own backends count here)" if args.backend == "postgresql" else "")
        + ("; above ~0.1 the machine was not quiet: rerun" if other > 0.1 else ""),
        "per run: req/s, p50 ms, p99 ms, server CPU ms/req; cores used by wrk / by other "
        "processes; connections per worker",
    ]
    for (name, side), runs in results.items():
        shown = "; ".join(
            f"{r.rps:,.0f} {r.p50_ms:.2f} {r.p99_ms:.2f} {r.cpu_ms:.2f} "
            f"{r.wrk_cpu_use:.2f}/{r.other_cpu_use:.2f} conns {r.split}"
            for r in runs
        )
        lines.append(f"- {name}, {side}: {shown}")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers, each server")
    parser.add_argument("--connections", type=int, default=16, help="wrk open connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=3, help="bare/tagmatch pairs per scenario")
    parser.add_argument("--audience-n", type=int, default=100)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["user", "item"],
        default=["user", "item"],
        help="user: recommend only; item: audience only",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TAGMATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    parser.add_argument("--rebuild", action="store_true", help="prepare the data again")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10k users x 2k items, 5 s, 2 rounds"
    )
    if parser.parse_known_args()[0].quick:  # smaller defaults; explicit options still win
        parser.set_defaults(
            users=10_000, items=2_000, events=200_000, duration=5.0, warmup=1.0, rounds=2
        )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench-tools` installs it (Debian package wrk)")
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    args.wrk_version = version[1] if len(version) > 1 else "?"
    prepared = prepare(
        Sizes(args.users, args.items, args.events, args.seed),
        args.cache_dir,
        backend=args.backend,
        postgres_url=args.postgres_url,
        rebuild=args.rebuild,
    )
    ids = {"user": prepared.user_ids_file, "item": prepared.item_ids_file}
    all_scenarios = [s for s in scenarios(args.audience_n) if s.ids_kind in args.only]
    results: dict[tuple[str, str], list[Run]] = {}
    body_sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        tagmatch_env = {
            "TAGMATCH_DATABASE_URL": prepared.database_url,
            "TAGMATCH_MODEL_DIR": str(prepared.model_dir),
            "TAGMATCH_LOG_LEVEL": "WARNING",
            "OPENBLAS_NUM_THREADS": "1",
        }
        port = free_port()
        real = stack.enter_context(
            server("tagmatch", tagmatch_command(port, args.workers), tagmatch_env, "/readyz",
                   port, work)
        )  # fmt: skip
        bodies = [work / "recommend.json", work / "audience.json"]
        for scenario, body in zip(scenarios(args.audience_n), bodies, strict=True):
            body_sizes[scenario.name] = capture(real.base, scenario, ids[scenario.ids_kind], body)
        bare_env = {"BARE_RECOMMEND_JSON": str(bodies[0]), "BARE_AUDIENCE_JSON": str(bodies[1])}
        port = free_port()
        bare = stack.enter_context(
            server("bare", bare_command(port, args.workers), bare_env, "/", port, work)
        )
        sides = {"bare": bare, "tagmatch": real}
        for scenario in all_scenarios:
            for target in sides.values():
                wrk(target, scenario, ids[scenario.ids_kind], args, args.warmup)
            for round_no in range(args.rounds):
                for side, target in sides.items():
                    run = wrk(target, scenario, ids[scenario.ids_kind], args, args.duration)
                    results.setdefault((scenario.name, side), []).append(run)
                    print(
                        f"{scenario.name:<16} {side:<8} round {round_no + 1}: {run.rps:9,.0f} "
                        f"req/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                        f"CPU {run.cpu_ms:5.2f} ms/req  other load {run.other_cpu_use:.2f} cores  "
                        f"conns {run.split}",
                        flush=True,
                    )
    print()
    print(report(args, prepared, results, body_sizes, all_scenarios))


if __name__ == "__main__":
    main()
