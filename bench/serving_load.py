"""Mechanics of the serving benchmarks: servers under test, wrk runs, a sequential client.

Shared by bench/serving_bench.py (throughput and latency, tagmatch beside a bare FastAPI app)
and bench/serving_memory.py (memory per worker).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from machine_stats import (
    children_cpu_seconds,
    cpu_seconds,
    machine_busy_seconds,
    process_tree,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
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
    name: str,
    command: list[str],
    env: dict[str, str],
    ready_path: str,
    port: int,
    logs: Path,
    cwd: Path = ROOT,
    workers: int = 1,
) -> Iterator[Server]:
    """A server process, yielded once `ready_path` answers 200 and all `workers` uvicorn
    workers have started (one ready worker answers before the others have loaded)."""
    base = f"http://127.0.0.1:{port}"
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT
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
            wait_for_workers(process.pid, workers)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_pids(pid: int, workers: int) -> list[int]:
    """uvicorn runs one worker in its own process, more as children of a supervisor
    (beside multiprocessing's resource tracker, which is not a worker)."""
    if workers == 1:
        return [pid]
    found = []
    for child in process_tree(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if child != pid and b"resource_tracker" not in cmdline:
            found.append(child)
    return found


def wait_for_workers(pid: int, workers: int, timeout: float = 300) -> None:
    """Until `workers` workers exist and each has been idle for a second: start-up (imports,
    loading the model) is CPU work, so an idle worker is a started one."""
    deadline = time.monotonic() + timeout
    while True:
        pids = worker_pids(pid, workers)
        if len(pids) >= workers:
            before = [cpu_seconds(p) for p in pids]
            time.sleep(1)
            # a started worker still polls its live state: idle means well under a core
            if all(cpu_seconds(p) - b < 0.25 for p, b in zip(pids, before, strict=True)):
                return
        else:
            time.sleep(0.5)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers not started and idle in {timeout} s")


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


@dataclass
class WrkProcess:
    """One wrk run in flight; finish() waits for it and reads its summary."""

    target: Server
    label: str
    process: subprocess.Popen[str]
    began: float
    server_cpu: float
    wrk_cpu: float
    busy: float
    split: str = "?"

    def finish(self) -> Run:
        stdout, stderr = self.process.communicate()
        wall = time.monotonic() - self.began
        if self.process.returncode != 0:
            raise RuntimeError(f"wrk failed ({self.process.returncode}): {stderr}")
        server_cpu = cpu_seconds(self.target.pid) - self.server_cpu
        wrk_cpu = children_cpu_seconds() - self.wrk_cpu
        other_cpu = machine_busy_seconds() - self.busy - server_cpu - wrk_cpu
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
        summary = json.loads(lines[-1])
        failures = {k: v for k, v in summary.items() if k.endswith(("errors", "timeouts")) and v}
        if failures or summary["requests"] == 0:
            raise RuntimeError(f"{self.target.base} {self.label}: no answers or failures {summary}")
        return Run(
            rps=summary["requests"] / (summary["duration_us"] / 1e6),
            p50_ms=summary["p50_us"] / 1000,
            p99_ms=summary["p99_us"] / 1000,
            requests=summary["requests"],
            cpu_ms=server_cpu * 1000 / max(summary["requests"], 1),
            cpu_use=server_cpu / wall,
            wrk_cpu_use=wrk_cpu / wall,
            other_cpu_use=max(other_cpu / wall, 0.0),
            split=self.split,
        )


def start_wrk(
    target: Server,
    label: str,
    script_args: list[str],
    connections: int,
    seconds: float,
    lua: Path = LUA,
    threads: int = 1,
) -> WrkProcess:
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
        "--timeout", "10s", "-s", str(lua), target.base, "--", *script_args,
    ]  # fmt: skip
    server_cpu, wrk_cpu, busy = (
        cpu_seconds(target.pid),
        children_cpu_seconds(),
        machine_busy_seconds(),
    )
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return WrkProcess(target, label, process, time.monotonic(), server_cpu, wrk_cpu, busy)


def wrk(
    target: Server, scenario: Scenario, ids_file: Path, args: argparse.Namespace, seconds: float
) -> Run:
    """One wrk run of a GET scenario with random ids; waits for it."""
    running = start_wrk(
        target,
        scenario.name,
        [str(ids_file), scenario.template],
        args.connections,
        seconds,
        threads=args.wrk_threads,
    )
    time.sleep(min(1.0, seconds / 3))  # connections are open and spread by now
    running.split = connections_per_worker(target)
    return running.finish()


@dataclass(frozen=True, slots=True)
class Latency:
    p50_ms: float
    p99_ms: float
    requests: int


def sequential(base: str, template: str, ids_file: Path, requests: int) -> Latency:
    """One client, one keep-alive connection, one request at a time: the latency a page view
    sees on an idle server."""
    ids = ids_file.read_text("utf-8").split()
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(requests):
            began = time.perf_counter()
            client.get(template % ids[(i * 7919) % len(ids)]).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return Latency(
        statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], requests
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
